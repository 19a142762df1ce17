import { spawn } from 'node:child_process';

/** A listening socket's descriptor held by the daemon without accepting on it (a TCP handle, not yet listening in libuv). */
export type ParkedSocket = { close(): void };

const PARK_TIMEOUT_MS = 5000;

// The child gets the socket as its fd 3 and hands it straight back as a bare handle.
const CHILD = `const { TCP, constants } = process.binding('tcp_wrap');
const handle = new TCP(constants.SERVER);
const err = handle.open(3);
if (err) process.exit(2);
process.send('socket', handle, () => process.disconnect());`;

/**
 * A duplicate of the listening socket `fd`, parked: while nginx serves, the daemon keeps the socket open
 * this way, so it can accept from it again (switching back, or nginx dying) without a moment in which
 * the port is closed. Node has no dup(); a short-lived child receives the descriptor and sends it back
 * over its IPC channel, which duplicates it (SCM_RIGHTS).
 */
export function parkSocket(fd: number): Promise<ParkedSocket> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'ignore', 'inherit', fd, 'ipc'], env: {} });
    const timer = setTimeout(() => child.kill('SIGKILL'), PARK_TIMEOUT_MS);
    let parked: ParkedSocket | undefined;
    child.on('message', (_message, handle) => {
      parked = handle as unknown as ParkedSocket;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (parked) resolve(parked);
      else reject(new Error(`could not keep a copy of the listening socket (helper exited with ${code})`));
    });
  });
}
