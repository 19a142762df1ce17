import http from 'node:http';

export interface ProbeOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between attempts. */
  intervalMs: number;
  /** Stop early when this says the instance is gone (e.g. the container exited). */
  alive: () => Promise<boolean>;
}

/** One HTTP GET; any HTTP response means the process listens and answers. */
function probeOnce(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Probes until the instance answers HTTP on its port. The switch happens as soon as it answers:
 * there is no fixed wait.
 */
export async function waitUntilAnswering(address: string, opts: ProbeOptions): Promise<'ok' | 'timeout' | 'exited'> {
  const [host, portText] = address.split(':');
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (await probeOnce(host!, Number(portText), Math.min(2000, opts.timeoutMs))) return 'ok';
    if (!(await opts.alive())) return 'exited';
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
  return 'timeout';
}
