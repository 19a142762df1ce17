import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from './http.js';
import { freePort, repoRoot, type TestPier } from './test-pier.js';

export interface LogRecord {
  pid: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * `pier daemon --role router` in a process of its own, on the Redis, instance and HTTP port of a
 * TestPier that runs the other roles. Its JSON log lines (workers' included) are kept for the test.
 */
export class RouterProcess {
  readonly logs: LogRecord[] = [];
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogRecord);
      } catch {
        // not a log line
      }
    });
  }

  /** Ready once it logs that it listens (every worker, with PIER_ROUTER_WORKERS). */
  static async start(pier: TestPier, env: Record<string, string> = {}): Promise<RouterProcess> {
    const s = pier.settings;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'daemon', '--role', 'router'], {
      env: {
        ...process.env,
        PIER_ENV_FILE: '/nonexistent',
        PIER_INSTANCE: s.instance,
        PIER_REDIS_URL: s.redisUrl,
        PIER_HOME: s.home,
        PIER_API_PORT: String(s.apiPort),
        PIER_HTTP_PORT: String(s.httpPort),
        PIER_HTTPS_PORT: String(await freePort()),
        PIER_LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const router = new RouterProcess(child);
    const ready = env.PIER_ROUTER_WORKERS && env.PIER_ROUTER_WORKERS !== '1' ? 'router workers listening' : 'router listening';
    try {
      await waitFor(async () => (child.exitCode === null ? router.logs : []), (logs) => child.exitCode !== null || logs.some((l) => l.msg === ready), `the router process to log "${ready}"`, 60_000);
      if (child.exitCode !== null) throw new Error(`pier daemon --role router exited with code ${child.exitCode} during start-up`);
    } catch (err) {
      await router.kill('SIGKILL');
      throw err;
    }
    return router;
  }

  /** Lines with this message, oldest first. */
  logged(msg: string): LogRecord[] {
    return this.logs.filter((l) => l.msg === msg);
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exit;
  }
}
