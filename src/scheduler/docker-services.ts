import { createHash } from 'node:crypto';
import { PassThrough, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from '../log.js';
import { ensureNetwork } from './docker-network.js';
import { attachedInput, attachedOutput } from './docker-one-off.js';
import { hardenedHostConfig } from './docker-security.js';
import type { AttachedSession } from './scheduler.js';

/** What a service image is made of: Debian packages installed on the stack image, and the user that owns /data. */
export interface ServiceRecipe {
  packages: string[];
  user: string;
}

/** One add-on service container, in the namespace of the plugin that owns it. */
export interface ServiceSpec extends ServiceRecipe {
  plugin: string;
  name: string;
  /** Run as `sh -c`, with `env`; the service's data lives in /data. */
  script: string;
  env: Record<string, string>;
}

export interface ServiceStatus {
  exists: boolean;
  running: boolean;
  /** Docker's state: running, restarting, exited… (absent: no container). */
  state?: string;
  /** The name apps on Pier's network reach it by. */
  host: string;
  volume: string;
  /** Whether the data volume exists (it may hold data from before the container). */
  volumeExists: boolean;
}

export interface ServiceExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

export interface DockerServicesOptions {
  instance: string;
  network: string;
  stackImage: string;
  caBundle: string;
}

export const SERVICE_ROLE = 'service';
/** Where a service keeps its data: the named volume is mounted here. */
export const SERVICE_DATA_DIR = '/data';
/** dpkg and apt's sandbox need these to install packages as root; nothing else runs with them. */
const INSTALL_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'SETUID', 'SETGID'];
const RECIPE_LABEL = 'pier.service-recipe';
/** How long an attached command's exit code may trail the end of its stream. */
const EXEC_EXIT_GRACE_MS = 2000;

/**
 * The add-on services' containers (Postgres, Redis…): images built once from the stack image
 * with Debian's packages, one container per service on Pier's network under a stable alias, its
 * data in a named volume, restarted by dockerd, never removed by app cleanup (role "service").
 */
export class DockerServices {
  /** Image builds in flight, by recipe hash: two creates at once build once. */
  private readonly building = new Map<string, Promise<string>>();

  constructor(
    private readonly docker: Docker,
    private readonly opts: DockerServicesOptions,
    private readonly log: Logger,
  ) {}

  containerName(plugin: string, name: string): string {
    return `${this.opts.instance}-${plugin}-${name}`;
  }

  async status(plugin: string, name: string): Promise<ServiceStatus> {
    const host = this.containerName(plugin, name);
    const volume = `${host}-data`;
    const base = { host, volume, volumeExists: await this.docker.getVolume(volume).inspect().then(() => true, () => false) };
    const info = await this.docker.getContainer(host).inspect().catch(() => undefined);
    if (!info) return { ...base, exists: false, running: false };
    return { ...base, exists: true, running: info.State.Running, state: info.State.Status };
  }

  /** Creates the service unless it exists, and starts it unless it runs. */
  async start(spec: ServiceSpec, progress: (line: string) => void): Promise<ServiceStatus> {
    const current = await this.status(spec.plugin, spec.name);
    if (!current.exists) await this.create(spec, current, await this.image(spec, progress));
    if (!current.running) await this.docker.getContainer(current.host).start().catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 304) throw err;
    });
    return this.status(spec.plugin, spec.name);
  }

  /** Removes the container; the data volume too only when asked. */
  async remove(plugin: string, name: string, withVolume: boolean): Promise<void> {
    const { host, volume } = await this.status(plugin, name);
    await this.docker.getContainer(host).remove({ force: true }).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
    if (withVolume) await this.docker.getVolume(volume).remove().catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
  }

  /** Runs a command in the running service, with `stdin` written to it; stdout is kept as bytes (pg_dump's format is binary). */
  async exec(plugin: string, name: string, cmd: string[], user: string, stdin?: Buffer): Promise<ServiceExecResult> {
    const container = this.docker.getContainer(this.containerName(plugin, name));
    const exec = await container.exec({ Cmd: cmd, User: user, AttachStdin: stdin !== undefined, AttachStdout: true, AttachStderr: true });
    const stream = (await exec.start({ hijack: true, stdin: stdin !== undefined })) as Duplex;
    const out = collect();
    const err = collect();
    this.docker.modem.demuxStream(stream, out.sink, err.sink);
    const done = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
    });
    // Ending our side is the command's end of input (psql, pg_restore read until it).
    if (stdin !== undefined) stream.end(stdin);
    await done;
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? -1, stdout: out.bytes(), stderr: err.bytes().toString('utf8') };
  }

  /**
   * Runs a command in the running service attached to a caller (postgres:connect, export,
   * import): its stdin, stdout and stderr, or one terminal with `tty`, are the session's, streamed
   * both ways with backpressure, so a dump of any size passes without being held in memory.
   */
  async attach(plugin: string, name: string, cmd: string[], user: string, tty: boolean, size?: { cols: number; rows: number }): Promise<AttachedSession> {
    // Docker's API before 1.42 cannot size an exec's terminal at start, and a resize after it comes late for a client
    // that reads the size first thing (redis-cli asks the terminal with an escape sequence then): stty sizes it first.
    const sized = tty && size ? ['sh', '-c', `stty cols ${size.cols} rows ${size.rows} 2>/dev/null; exec "$@"`, 'sh', ...cmd] : cmd;
    const exec = await this.docker.getContainer(this.containerName(plugin, name)).exec({
      Cmd: sized,
      User: user,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: tty,
      Env: tty ? ['TERM=xterm'] : [],
    });
    const socket = (await exec.start({ hijack: true, stdin: true, Tty: tty })) as Duplex;
    socket.on('error', () => undefined);
    const { stdout, stderr } = attachedOutput(socket, tty);
    const ended = new Promise<void>((resolve) => socket.once('close', resolve));
    let killed = false;
    return {
      stdout,
      stderr,
      stdin: attachedInput(socket),
      resize: async (cols, rows) => {
        if (tty) await exec.resize({ w: cols, h: rows }).catch(() => undefined);
      },
      wait: async () => {
        await ended;
        // Docker closes the stream as the command exits, and records its code a moment later.
        for (const deadline = Date.now() + EXEC_EXIT_GRACE_MS; ; await new Promise((r) => setTimeout(r, 50))) {
          const info = await exec.inspect();
          if (!info.Running) return info.ExitCode ?? -1;
          // Cut off by kill(), the command is on its way out: it exits once it reads or writes the closed stream.
          if (killed || Date.now() > deadline) return 137;
        }
      },
      // Docker cannot signal an exec: closing its stream ends its input and output, which ends the client programs.
      kill: async () => {
        killed = true;
        socket.destroy();
      },
    };
  }

  /**
   * Runs `cmd` until it succeeds (pg_isready, redis-cli ping), for at most `timeoutMs`. A service
   * that crashes meanwhile (it restarts, or is stopped) fails at once: waiting longer is no use.
   */
  async waitUntil(plugin: string, name: string, cmd: string[], user: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const container = this.docker.getContainer(this.containerName(plugin, name));
    let startedAt: string | undefined;
    while (Date.now() < deadline) {
      const ready = await this.exec(plugin, name, cmd, user).then((r) => r.exitCode === 0, () => false);
      if (ready) return true;
      const state = await container.inspect().then((i) => i.State, () => undefined);
      if (!state || !state.Running || state.Restarting) return false;
      startedAt ??= state.StartedAt;
      if (state.StartedAt !== startedAt) return false;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  }

  async logs(plugin: string, name: string, tail: number): Promise<string> {
    const raw = (await this.docker.getContainer(this.containerName(plugin, name)).logs({ stdout: true, stderr: true, tail, timestamps: true })) as Buffer;
    const merged = collect();
    const source = new PassThrough();
    this.docker.modem.demuxStream(source, merged.sink, merged.sink);
    source.end(raw);
    await new Promise((r) => source.on('end', r));
    return merged.bytes().toString('utf8');
  }

  private async create(spec: ServiceSpec, { host, volume }: ServiceStatus, image: string): Promise<void> {
    await ensureNetwork(this.docker, this.opts.network, this.opts.instance);
    const labels = { 'pier.instance': this.opts.instance, 'pier.role': SERVICE_ROLE, 'pier.plugin': spec.plugin, 'pier.service': spec.name };
    await this.docker.createVolume({ Name: volume, Labels: labels });
    await this.docker.createContainer({
      name: host,
      Hostname: host,
      Image: image,
      User: spec.user,
      Cmd: ['sh', '-c', spec.script],
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      HostConfig: hardenedHostConfig({
        Init: true,
        NetworkMode: this.opts.network,
        Binds: [`${volume}:${SERVICE_DATA_DIR}`],
        // dockerd brings it back after its own restart; `unless-stopped` would not after a crash-stop by hand either way.
        RestartPolicy: { Name: 'unless-stopped' },
      }),
      NetworkingConfig: { EndpointsConfig: { [this.opts.network]: { Aliases: [host] } } },
    });
  }

  /** The image of `recipe`, built on first use and found by its recipe's hash afterwards. */
  private image(recipe: ServiceRecipe, progress: (line: string) => void): Promise<string> {
    const hash = createHash('sha256').update(JSON.stringify([this.opts.stackImage, [...recipe.packages].sort(), recipe.user])).digest('hex').slice(0, 16);
    const tag = `pier/service:${hash}`;
    let pending = this.building.get(hash);
    if (!pending) {
      pending = this.build(recipe, tag, hash, progress).finally(() => this.building.delete(hash));
      this.building.set(hash, pending);
    }
    return pending;
  }

  private async build(recipe: ServiceRecipe, tag: string, hash: string, progress: (line: string) => void): Promise<string> {
    const cached = await this.docker.listImages({ filters: { label: [`${RECIPE_LABEL}=${hash}`] } });
    if (cached.length > 0) return tag;
    progress(`Building the service image (${recipe.packages.join(', ')}), once`);
    const started = Date.now();
    const install = [
      'set -e',
      'apt-get update -qq',
      `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${recipe.packages.join(' ')} >/dev/null`,
      'rm -rf /var/lib/apt/lists/*',
      `install -d -o ${recipe.user} -g ${recipe.user} -m 0700 ${SERVICE_DATA_DIR}`,
    ].join('\n');
    const container = await this.docker.createContainer({
      Image: this.opts.stackImage,
      User: 'root',
      Cmd: ['sh', '-c', install],
      // The stack's apt sources are the host's mirror, whose certificate the host's CA bundle vouches for.
      HostConfig: hardenedHostConfig({ CapAdd: INSTALL_CAPS, Binds: [`${this.opts.caBundle}:/etc/ssl/certs/ca-certificates.crt:ro`] }),
    });
    try {
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      if (StatusCode !== 0) {
        const tail = ((await container.logs({ stdout: true, stderr: true, tail: 20 })) as Buffer).toString('utf8');
        throw new Error(`Installing ${recipe.packages.join(', ')} on ${this.opts.stackImage} failed (exit ${StatusCode}): ${tail.trim()}`);
      }
      const [repo, version] = tag.split(':');
      await container.commit({ repo, tag: version, changes: [`LABEL ${RECIPE_LABEL}=${hash}`, `USER ${recipe.user}`] });
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
    this.log.info({ tag, packages: recipe.packages, ms: Date.now() - started }, 'service image built');
    return tag;
  }
}

function collect(): { sink: PassThrough; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  return { sink, bytes: () => Buffer.concat(chunks) };
}
