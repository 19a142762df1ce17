import type http from 'node:http';
import { PassThrough, Writable, type Duplex, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Docker from 'dockerode';
import { UserError } from '../errors.js';
import { FrameDecoder } from '../frames.js';
import { LineSplitter } from './docker-log-frames.js';
import type { OneOffSession } from './scheduler.js';

export interface OneOffResult {
  exitCode: number;
}

/** A one-off container Docker could not start (an unknown user, a mount it refused…). */
export class OneOffStartError extends UserError {}

/** How long output may trail the exit before it is given up on. */
const OUTPUT_GRACE_MS = 1000;
const DOCKER_STDERR = 2;

/**
 * Runs a container to completion with its output streamed line by line (the release phase,
 * deploy scripts); Docker removes it. A run that outlasts `timeoutMs` is killed and reported as
 * exit code 124, as timeout(1) does.
 */
export async function runToCompletion(
  docker: Docker,
  options: Docker.ContainerCreateOptions,
  onLine: (line: string) => void,
  timeoutMs: number,
): Promise<OneOffResult> {
  const run = await startOneOff(docker, options);
  const output = run.lines(onLine);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void run.kill();
  }, timeoutMs);
  try {
    const exitCode = await run.wait();
    await Promise.race([output, new Promise((r) => setTimeout(r, OUTPUT_GRACE_MS))]);
    return { exitCode: timedOut ? 124 : exitCode };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates a one-off container from `options` (containerSpec with `oneOff`), attaches to it
 * (with stdin when `OpenStdin`), then starts it. Attaching first loses not a byte of output, and
 * input written early waits in Docker until the command reads it.
 */
export async function startOneOff(docker: Docker, options: Docker.ContainerCreateOptions): Promise<OneOffSession> {
  const name = `${options.Labels?.['pier.process']}.${options.Labels?.['pier.index']}`;
  const interactive = options.OpenStdin === true;
  const tty = options.Tty === true;
  const container = await docker.createContainer(options);
  const remove = () => container.remove({ force: true }).catch(() => undefined);
  let attached: Duplex | undefined;
  let exit: WaitInPlace | undefined;
  try {
    attached = (await container.attach({ stream: true, stdin: interactive, stdout: true, stderr: true, hijack: interactive })) as Duplex;
    attached.on('error', () => undefined);
    exit = await waitInPlace(docker, container.id, options.HostConfig?.AutoRemove ? 'removed' : 'next-exit');
    await container.start();
  } catch (err) {
    attached?.destroy();
    exit?.abort();
    await remove();
    throw startError(err);
  }
  const [socket, waiting] = [attached, exit];
  const { stdout, stderr } = attachedOutput(socket, tty);
  const exited = waiting.code.finally(remove);
  exited.catch(() => undefined);
  return {
    name,
    stdout,
    stderr,
    stdin: interactive ? attachedInput(socket) : null,
    lines: async (onLine) => {
      await Promise.all([eachLine(stdout, onLine), eachLine(stderr, onLine)]);
    },
    resize: async (cols, rows) => {
      if (tty) await container.resize({ w: cols, h: rows }).catch(() => undefined);
    },
    wait: () => exited,
    kill: async () => {
      // Output nobody reads blocks the command, and Docker's kill with it (holding the container's lock): let go first.
      socket.destroy();
      await container.kill().catch(() => undefined);
    },
    detach: () => {
      socket.destroy();
      waiting.abort();
    },
  };
}

/** Docker's reason for a start it refused, as a user error. (A missing program is not one: the init reports it, exit 127.) */
function startError(err: unknown): unknown {
  const e = err as { statusCode?: number; message?: string };
  if (e.statusCode !== 400 || !e.message) return err;
  return new OneOffStartError(`The command could not start: ${e.message.replace(/^\(HTTP code \d+\)[^-]*- /, '').trim()}`);
}

interface WaitInPlace {
  code: Promise<number>;
  abort(): void;
}

/**
 * Docker sends a wait's headers once the wait is registered, and this resolves only then: started
 * afterwards, the container cannot exit (and with AutoRemove vanish) before its exit is seen.
 */
async function waitInPlace(docker: Docker, id: string, condition: 'removed' | 'next-exit'): Promise<WaitInPlace> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/containers/${id}/wait?`,
        method: 'POST',
        isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
        options: { condition },
      },
      (err, stream) => (err ? reject(err) : resolve(stream as http.IncomingMessage)),
    );
  });
  const code = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { StatusCode: number; Error?: { Message?: string } | null };
    if (body.Error?.Message) throw new Error(`waiting for the one-off container failed: ${body.Error.Message}`);
    return body.StatusCode;
  })();
  return { code, abort: () => res.destroy() };
}

/** The output of a hijacked attach or exec stream: in TTY mode the terminal carries both on stdout. */
export function attachedOutput(socket: Duplex, tty: boolean): { stdout: PassThrough; stderr: PassThrough } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (tty) {
    socket.pipe(stdout);
    // Cut off (kill, detach), the socket closes without an end, which pipe() would not pass on.
    socket.once('close', () => stdout.end());
    stderr.end();
  } else {
    demux(socket, stdout, stderr);
  }
  return { stdout, stderr };
}

/** The input of a hijacked stream: writes complete once the socket took them (backpressure); the end half-closes it, which Docker reads as EOF. */
export function attachedInput(socket: Duplex): Writable {
  return new Writable({
    write: (chunk: Buffer, _encoding, done) => void socket.write(chunk, done),
    final: (done) => {
      socket.end();
      done();
    },
  });
}

/** Splits Docker's multiplexed attach stream into stdout and stderr, pausing it while either is full. */
function demux(source: Readable, stdout: PassThrough, stderr: PassThrough): void {
  const frames = new FrameDecoder(8);
  let blocked = 0;
  source.on('data', (chunk: Buffer) => {
    for (const { type, payload } of frames.push(chunk)) {
      const target = type === DOCKER_STDERR ? stderr : stdout;
      if (target.write(payload)) continue;
      blocked++;
      source.pause();
      target.once('drain', () => {
        if (--blocked === 0) source.resume();
      });
    }
  });
  const end = () => {
    stdout.end();
    stderr.end();
  };
  source.once('end', end);
  source.once('close', end);
}

/** Text lines of a byte stream, each handled (and awaited) before more is read; a last partial line too. */
async function eachLine(stream: Readable, onLine: (line: string) => unknown): Promise<void> {
  const decoder = new StringDecoder('utf8');
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  const handle = async () => {
    for (const line of lines.splice(0)) await onLine(line);
  };
  for await (const chunk of stream) {
    splitter.push(decoder.write(chunk as Buffer));
    await handle();
  }
  splitter.push(decoder.end());
  splitter.flush();
  await handle();
}
