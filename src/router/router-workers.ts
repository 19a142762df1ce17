import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log.js';

/** A worker that died is replaced after this pause, so one that cannot start does not spin the CPU. */
const RESPAWN_DELAY_MS = 1000;
const START_TIMEOUT_MS = 60_000;
/** Workers get this long after SIGTERM to finish their responses (the router's own grace is 5 s). */
const STOP_TIMEOUT_MS = 10_000;

/**
 * PIER_ROUTER_WORKERS > 1: `count` router processes share PIER_HTTP_PORT through node:cluster (Node's
 * net servers have no SO_REUSEPORT). This process forks them and accepts nothing itself; each worker
 * is `pier daemon --role router` in a cluster worker, so it loads the route table from Redis and
 * watches it like any router. Connections are handed out round-robin. A worker that dies (killed, crashed) is replaced;
 * the returned closer stops them all with SIGTERM. Workers exit when this process dies (their IPC
 * channel closes), so none outlives a crashed daemon holding the port.
 */
export async function startRouterWorkers(count: number, httpPort: number, log: Logger): Promise<() => Promise<void>> {
  // The CLI entry again (tsx's loader comes with execArgv), as a router alone.
  cluster.setupPrimary({ args: ['daemon', '--role', 'router'] });
  const workers = new Set<Worker>();
  let closing = false;

  const fork = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      workers.add(worker);
      let listening = false;
      const timer = setTimeout(() => reject(new Error(`router worker ${worker.process.pid} did not listen on port ${httpPort} within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      worker.on('listening', (address) => {
        if (listening || address.port !== httpPort) return;
        listening = true;
        clearTimeout(timer);
        log.info({ worker: worker.process.pid }, 'router worker listening');
        resolve(worker);
      });
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        clearTimeout(timer);
        if (closing) return;
        if (!listening) {
          reject(new Error(`router worker ${worker.process.pid} exited during start-up (${signal ?? `code ${code}`}); its log says why`));
          return;
        }
        // A clean exit is a worker stopping on a signal of its own (Ctrl-C reaches the whole process group, systemd signals every process): not a death.
        if (code === 0) {
          log.info({ worker: worker.process.pid }, 'router worker stopped');
          return;
        }
        log.warn({ worker: worker.process.pid, code, signal }, 'router worker died; starting another');
        setTimeout(() => {
          if (!closing) fork().catch((err: unknown) => log.error({ err }, 'could not replace a router worker'));
        }, RESPAWN_DELAY_MS).unref();
      });
    });

  const close = async () => {
    closing = true;
    await Promise.all(
      [...workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const kill = setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
            worker.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  };

  try {
    await Promise.all(Array.from({ length: count }, fork));
  } catch (err) {
    await close();
    throw err;
  }
  log.info({ port: httpPort, workers: count }, 'router workers listening');
  return close;
}
