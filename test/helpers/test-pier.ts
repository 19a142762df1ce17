import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import { ALL_ROLES, startDaemon, type Daemon, type Role } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { loadSettings, type Settings } from '../../src/settings.js';
import { setup, readAdminToken } from '../../src/setup.js';

import { connectTestRedis, deleteInstanceKeys, testRedisUrl, uniqueInstance } from './redis.js';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // Every child is bounded in time, so a hung push or CLI fails its test instead of hanging the run.
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
  });
}

/**
 * A whole Pier daemon for one test file, namespaced so it never touches an installed Pier:
 * its own instance name (Redis keys, Docker labels, network, images), ports and PIER_HOME.
 */
export class TestPier {
  private agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  /** Folders made for the test (fixture repositories and the like), removed by close(). */
  private readonly temp: string[] = [];

  private constructor(
    readonly settings: Settings,
    readonly token: string,
    private daemon: Daemon | ChildDaemon,
    private readonly start: () => Promise<Daemon | ChildDaemon>,
  ) {}

  /**
   * `logFile` captures the daemon's logs at debug level, for tests that inspect them; `env` adds
   * settings; `child` runs the daemon as a process of its own (`pier daemon`), so a test can kill it;
   * `roles` runs only those roles in this process (a test starts the others elsewhere).
   */
  static async start(opts: { logFile?: string; env?: Record<string, string>; child?: boolean; roles?: Role[] } = {}): Promise<TestPier> {
    const home = await mkdtemp(path.join(os.tmpdir(), 'pier-test-'));
    const env = {
      PIER_API_PORT: String(await freePort()),
      PIER_HTTP_PORT: String(await freePort()),
      PIER_HTTPS_PORT: String(await freePort()),
      PIER_HOME: home,
      PIER_INSTANCE: uniqueInstance('pt'),
      PIER_REDIS_URL: testRedisUrl,
      PIER_LOG_LEVEL: process.env.PIER_TEST_LOG_LEVEL ?? 'silent',
      ...opts.env,
    };
    const settings = loadSettings(env);
    await setup(settings);
    const token = (await readAdminToken(settings))!;
    const log = opts.logFile ? createLogger('debug', opts.logFile) : createLogger(settings.logLevel);
    const start = opts.child ? () => ChildDaemon.start(env, settings.apiPort, settings.httpPort) : () => startDaemon(settings, opts.roles ?? ALL_ROLES, log);
    return new TestPier(settings, token, await start(), start);
  }

  /** Stops the daemon as SIGTERM would (apps keep running) and starts a new one on the same state. */
  async restart(): Promise<void> {
    await this.daemon.close();
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.daemon = await this.start();
  }

  /** Kills a child daemon with SIGKILL, as a crash would: nothing is closed cleanly. */
  async crash(): Promise<void> {
    if (!(this.daemon instanceof ChildDaemon)) throw new Error('crash() needs TestPier.start({ child: true })');
    await this.daemon.kill();
  }

  /** Starts the daemon again after crash(). */
  async revive(): Promise<void> {
    this.agent.destroy();
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.daemon = await this.start();
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.settings.apiPort}`;
  }

  gitUrl(app: string, token = this.token): string {
    return `http://pier:${token}@127.0.0.1:${this.settings.apiPort}/${app}.git`;
  }

  /** The program, arguments and env that run the real CLI (from sources) against this daemon. */
  cliCommand(args: string[], env: NodeJS.ProcessEnv = {}): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
    return {
      cmd: process.execPath,
      args: ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args],
      env: { ...process.env, PIER_URL: this.apiUrl, PIER_TOKEN: this.token, PIER_ENV_FILE: '/nonexistent', ...env },
    };
  }

  /** Runs the real CLI against this daemon; `input` is its stdin (else /dev/null). */
  cli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
    const cli = this.cliCommand(args, env);
    return run(cli.cmd, cli.args, { env: cli.env, input });
  }

  /** GET through the router with the app's Host header (fetch cannot set Host, so plain http). */
  get(app: string, pathname = '/'): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: this.settings.httpPort, path: pathname, headers: { host: `${app}.${this.settings.domain}` }, agent: this.agent },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')));
      req.on('error', reject);
    });
  }

  /** A new empty folder, removed when this Pier closes. */
  async tempDir(prefix = 'pier-test-'): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    this.temp.push(dir);
    return dir;
  }

  /** Copies a fixture app into a fresh git repository with one commit (removed when this Pier closes). */
  async fixtureRepo(fixture: string): Promise<string> {
    const dir = await this.tempDir('pier-app-');
    await cp(path.join(repoRoot, 'test/fixtures', fixture), dir, { recursive: true });
    await commitAll(dir, 'initial');
    return dir;
  }

  push(dir: string, app: string, ref = 'HEAD:main', token?: string): Promise<RunResult> {
    return run('git', ['push', '--force', this.gitUrl(app, token), ref], {
      cwd: dir,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.daemon.close();
    await removeInstance(this.settings.instance);
    for (const dir of [this.settings.home, ...this.temp]) await rm(dir, { recursive: true, force: true });
  }
}

export async function commitAll(dir: string, message: string): Promise<void> {
  if (!existsSync(path.join(dir, '.git'))) await run('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  await run('git', ['add', '-A'], { cwd: dir });
  const result = await run('git', ['-c', 'user.name=Pier Test', '-c', 'user.email=test@pier.invalid', 'commit', '-q', '-m', message], { cwd: dir });
  if (result.code !== 0) throw new Error(`git commit failed: ${result.stderr}`);
}

/** Asserts the isolation every Pier app container has, whatever built its image. */
export function expectHardened(info: Docker.ContainerInspectInfo, user = '1000:1000'): void {
  expect(info.Config.User).to.equal(user);
  expect(info.HostConfig.Privileged).to.equal(false);
  expect(info.HostConfig.CapDrop).to.deep.equal(['ALL']);
  expect(info.HostConfig.SecurityOpt).to.include('no-new-privileges');
  expect(info.HostConfig.PortBindings ?? {}).to.deep.equal({});
}

/** The inspected web container of an app (the first, when several run). */
export async function webContainer(pier: TestPier, app: string): Promise<Docker.ContainerInspectInfo> {
  const docker = new Docker();
  const [web] = await docker.listContainers({ filters: { label: [`pier.instance=${pier.settings.instance}`, `pier.app=${app}`, 'pier.process=web'] } });
  if (!web) throw new Error(`${app} has no running web container`);
  return docker.getContainer(web.Id).inspect();
}

/**
 * Starts a TestPier, and a repository of `fixture` when given, before a suite's tests and closes
 * it after them; `use` receives both, for the suite's own variables.
 */
export function usePier(fixture: string | undefined, use: (pier: TestPier, repo: string) => void, opts: Parameters<typeof TestPier.start>[0] = {}): void {
  let pier: TestPier | undefined;
  before(async () => {
    pier = await TestPier.start(opts);
    use(pier, fixture ? await pier.fixtureRepo(fixture) : '');
  });
  after(async () => {
    await pier?.close();
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `pier daemon` in a process of its own, from the sources. */
class ChildDaemon {
  private constructor(private readonly child: ChildProcess) {}

  /** Ready once the API answers and the router accepts connections (it starts listening after the API). */
  static async start(env: Record<string, string>, apiPort: number, httpPort: number): Promise<ChildDaemon> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'daemon'], {
      env: { ...process.env, ...env, PIER_ENV_FILE: '/nonexistent' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const daemon = new ChildDaemon(child);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`pier daemon exited with code ${child.exitCode} during start-up`);
      const api = await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false);
      if (api && (await accepts(httpPort))) return daemon;
      if (Date.now() > deadline) {
        await daemon.kill();
        throw new Error('pier daemon did not answer /healthz and open its router port within 60 s');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private exited(): Promise<void> {
    return this.child.exitCode !== null || this.child.signalCode !== null ? Promise.resolve() : new Promise((r) => this.child.once('exit', () => r()));
  }

  async close(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited();
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited();
  }
}

/** A new commit with no change: a push of it rebuilds the same source. */
export async function emptyCommit(dir: string, message = 'rebuild'): Promise<void> {
  const result = await run('git', ['-c', 'user.name=Pier Test', '-c', 'user.email=test@pier.invalid', 'commit', '-q', '--allow-empty', '-m', message], { cwd: dir });
  if (result.code !== 0) throw new Error(`git commit failed: ${result.stderr}`);
}

/** Removes every Docker object and Redis key a test instance created. */
export async function removeInstance(instance: string): Promise<void> {
  const docker = new Docker();
  const label = [`pier.instance=${instance}`];
  for (const c of await docker.listContainers({ all: true, filters: { label } })) {
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
  for (const img of await docker.listImages({ filters: { label } })) {
    await docker.getImage(img.Id).remove({ force: true }).catch(() => undefined);
  }
  const volumes = await docker.listVolumes();
  for (const v of volumes.Volumes ?? []) {
    if (v.Name.startsWith(`${instance}-`)) await docker.getVolume(v.Name).remove().catch(() => undefined);
  }
  await docker.getNetwork(instance).remove().catch(() => undefined);
  const redis = await connectTestRedis();
  try {
    await deleteInstanceKeys(redis, instance);
  } finally {
    redis.disconnect();
  }
}
