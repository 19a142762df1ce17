import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { controlSocket } from './nginx-config.js';

/** A configuration nginx -t refused; its message carries nginx's own lines, which name the file and line. */
export class NginxConfigError extends UserError {}

/** The nginx binary is not there (not installed, or not on PATH). */
export class NginxMissingError extends UserError {}

/** How long nginx gets to start, or to load a new configuration, before Pier says it did not. */
const LOAD_TIMEOUT_MS = 10_000;
const POLL_MS = 5;
/** `-t` parses the whole configuration; a large one still takes well under this. */
const VALIDATE_TIMEOUT_MS = 20_000;
/** A stale master finishes its requests in flight first; past this the port is taken anyway (and the bind fails with a clear error). */
const STALE_STOP_TIMEOUT_MS = 10_000;

/** The master's child processes with their titles ("nginx: worker process", "… is shutting down", cache helpers). */
async function children(masterPid: number): Promise<Array<{ pid: number; title: string }>> {
  const found: Array<{ pid: number; title: string }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after "(comm) ": state, then the parent's PID.
      const ppid = Number((await readFile(`/proc/${entry}/stat`, 'utf8')).split(') ')[1]!.split(' ')[1]);
      if (ppid === masterPid) found.push({ pid: Number(entry), title: await readFile(`/proc/${entry}/cmdline`, 'utf8') });
    } catch {
      // The process ended meanwhile.
    }
  }
  return found;
}

/**
 * The master's workers that still accept connections: a worker told to stop renames itself "worker process
 * is shutting down" once it has closed its listening sockets (it may serve its requests in flight for longer).
 */
async function acceptingWorkers(masterPid: number): Promise<number[]> {
  return (await children(masterPid)).filter(({ title }) => title.startsWith('nginx: worker process') && !title.includes('shutting down')).map(({ pid }) => pid);
}

/** Whether the process has `file` open (its descriptors link to the file's current name). */
async function hasOpen(pid: number, file: string): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === file) return true;
  return false;
}

/**
 * Stops an nginx master a previous daemon of this PIER_HOME left running (it was killed, so it could not stop
 * it): that master still holds PIER_HTTP_PORT. Only a master started with this prefix is touched.
 */
export async function stopStaleMaster(dir: string, log: Logger): Promise<void> {
  const pid = Number((await readFile(`${dir}/nginx.pid`, 'utf8').catch(() => '')).trim());
  if (!(pid > 0)) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.startsWith('nginx: master process') || !cmdline.includes(`-p ${dir}/`)) return;
  log.warn({ pid }, 'stopping the nginx a previous daemon left running');
  process.kill(pid, 'SIGQUIT');
  const deadline = Date.now() + STALE_STOP_TIMEOUT_MS;
  while ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) !== '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
}

/**
 * `nginx -t` of `file` with the prefix `dir` (its temp folders are made): undefined when nginx accepts it,
 * else nginx's reasons, its [emerg] and [crit] lines without their time and pid (they name file:line).
 */
export async function nginxTest(binary: string, dir: string, file: string): Promise<string[] | undefined> {
  await mkdir(`${dir}/temp`, { recursive: true, mode: 0o700 });
  const { code, output } = await run(binary, ['-t', '-q', '-p', `${dir}/`, '-e', `${dir}/error.log`, '-c', file], VALIDATE_TIMEOUT_MS);
  if (code === 0) return undefined;
  const reasons = output.split('\n').filter((l) => l.includes('[emerg]') || l.includes('[crit]')).map((l) => l.replace(/^.*?\[(emerg|crit)\] (\d+#\d+: )?/, ''));
  return reasons.length > 0 ? reasons : [output.trim() || `nginx -t exited with ${code}`];
}

function run(binary: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const Failure = err.code === 'ENOENT' ? NginxMissingError : Error;
      reject(new Failure(`${binary} could not run (${err.message}); install it (PIER_INSTALL_NGINX=1 ./install.sh, or apt-get install nginx-light) or keep the built-in router: pier proxy:type builtin`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/**
 * One nginx master of Pier's own, with its own prefix ($PIER_HOME/nginx): never the system's nginx.
 * It serves the daemon's listening socket, inherited as fd 3 (nginx takes inherited sockets from the
 * NGINX environment variable), so it needs no privilege to serve port 80 and both planes accept from
 * the same socket while they hand over.
 */
export class NginxMaster {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    private readonly opts: { binary: string; dir: string; log: Logger; onExit: (code: number | null) => void },
  ) {}

  private get configFile(): string {
    return `${this.opts.dir}/nginx.conf`;
  }

  /** Checks `config` with `nginx -t` in a file of its own; throws NginxConfigError with nginx's reasons when it is refused. */
  async validate(config: string): Promise<string> {
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    const file = `${this.opts.dir}/nginx.conf.next`;
    await writeFile(file, config, { mode: 0o600 });
    const reasons = await nginxTest(this.opts.binary, this.opts.dir, file);
    if (reasons) {
      // Kept for the operator to read: nginx's reasons name its lines.
      const rejected = `${this.opts.dir}/nginx.conf.rejected`;
      await rename(file, rejected);
      throw new NginxConfigError(`nginx refused the new configuration (${reasons.join('; ').replaceAll(file, rejected)}); the previous one keeps serving. Fix the template or the setting that caused it.`);
    }
    return file;
  }

  /** Starts the master on a validated config file, serving `listenFds` (HTTP, then HTTPS); resolves once it answers with `generation`. */
  async start(validated: string, generation: number, listenFds: readonly number[]): Promise<void> {
    await rename(validated, this.configFile);
    this.stopping = false;
    const child = spawn(this.opts.binary, ['-p', `${this.opts.dir}/`, '-e', `${this.opts.dir}/error.log`, '-c', this.configFile], {
      stdio: ['ignore', 'ignore', 'pipe', ...listenFds],
      // The inherited descriptors are the child's 3, 4, … in that order.
      // TZ=UTC: the access log's time stamps are built from $time_iso8601, which is local time (nginx passes TZ to its workers).
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', NGINX: listenFds.map((_, i) => `${3 + i};`).join(''), TZ: 'UTC' },
    });
    this.child = child;
    // A daemon that exits without closing its router (an error during startup, process.exit) takes its nginx along;
    // one that is killed leaves it to stopStaleMaster at its next start.
    const orphanGuard = () => child.kill('SIGQUIT');
    process.on('exit', orphanGuard);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => this.opts.log.error({ err }, 'nginx could not start'));
      child.on('close', (code) => {
        process.off('exit', orphanGuard);
        if (this.child === child) this.child = undefined;
        if (!this.stopping) {
          this.opts.log.error({ code, stderr: stderr.trim() }, 'nginx exited');
          this.opts.onExit(code);
        }
        resolve();
      });
    });
    try {
      await this.waitFor(generation, () => (this.child === child ? undefined : `nginx exited at start: ${stderr.trim() || 'see its error.log'}`));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Loads a validated config file gracefully (SIGHUP: new workers, old ones finish their requests); resolves once it is in force. */
  async reload(validated: string, generation: number): Promise<void> {
    const child = this.child;
    if (!child?.pid) throw new Error('nginx is not running');
    await rename(validated, this.configFile);
    const old = await acceptingWorkers(child.pid);
    child.kill('SIGHUP');
    await this.waitFor(generation, () => (this.child === child ? undefined : 'nginx exited during a reload'));
    // The new workers accept; until the old ones have closed their listeners too, a new connection may still
    // reach the old configuration (seen for 100+ ms on a busy host).
    const deadline = Date.now() + LOAD_TIMEOUT_MS;
    while ((await acceptingWorkers(child.pid)).some((pid) => old.includes(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
  }

  /** Graceful stop: nginx stops accepting, finishes requests in flight (up to its worker_shutdown_timeout), then exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.child?.kill('SIGQUIT');
    await this.exited;
  }

  /** Whether nginx (the master or any of its workers) still has `file` open: a renamed log file it may still write to. */
  async holds(file: string): Promise<boolean> {
    const pid = this.child?.pid;
    if (pid === undefined) return false;
    for (const p of [pid, ...(await children(pid)).map((c) => c.pid)]) if (await hasOpen(p, file)) return true;
    return false;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Polls the control socket until nginx answers with `generation`: the workers of that config accept. */
  private async waitFor(generation: number, gone: () => string | undefined): Promise<void> {
    const deadline = Date.now() + LOAD_TIMEOUT_MS;
    for (;;) {
      const problem = gone();
      if (problem) throw new Error(problem);
      if ((await this.generation()) === String(generation)) return;
      if (Date.now() > deadline) throw new Error(`nginx did not load generation ${generation} within ${LOAD_TIMEOUT_MS / 1000}s; see ${this.opts.dir}/error.log`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  private generation(): Promise<string | undefined> {
    return new Promise((resolve) => {
      const req = http.get({ socketPath: controlSocket(this.opts.dir), path: '/generation', agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
        res.on('error', () => resolve(undefined));
      });
      req.setTimeout(1000, () => req.destroy());
      req.on('error', () => resolve(undefined));
    });
  }
}
