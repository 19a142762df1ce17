import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import { Channel } from '../async-channel.js';
import { demuxDockerFrames, LineSplitter } from './docker-log-frames.js';
import { latestLines, normalizeTime, type LogCursor, type LogLine } from './log-lines.js';

export interface LogScope {
  /** Docker object namespace (PIER_INSTANCE). */
  instance: string;
  app: string;
  /** Only containers of this process type (`run` for one-off runs). */
  process?: string;
}

/** How often a follower looks for containers that started, restarted or went away. */
const POLL_MS = 1000;
/** Instances and one-off runs; never build containers. */
const LOGGED_ROLES = new Set(['app', 'run']);

/** Splits the `timestamps: true` prefix off a line of `docker logs`: `2026-12-01T07:00:00.123456789Z text`. */
export function parseDockerLine(raw: string): { time: string; line: string } | undefined {
  const space = raw.indexOf(' ');
  const time = normalizeTime(space < 0 ? raw : raw.slice(0, space));
  return time === undefined ? undefined : { time, line: space < 0 ? '' : raw.slice(space + 1) };
}

/** Docker's `since` for a normalized time: Unix seconds and nanoseconds, `1796108400.123456789`. */
export function dockerSince(time: string): string {
  return `${Date.parse(`${time.slice(0, 19)}Z`) / 1000}.${time.slice(20, 29)}`;
}

interface Followed {
  last: string;
  state?: string;
  /** Its log is being streamed (or about to be). */
  attached: boolean;
  unlogged: boolean;
}

interface Logged {
  id: string;
  /** `web.1`, `run.1` */
  name: string;
  state: string;
}

async function loggedContainers(docker: Docker, scope: LogScope): Promise<Logged[]> {
  const all = await docker.listContainers({ all: true, filters: { label: [`pier.instance=${scope.instance}`, `pier.app=${scope.app}`] } });
  return all
    .filter((c) => LOGGED_ROLES.has(c.Labels['pier.role'] ?? '') && (!scope.process || c.Labels['pier.process'] === scope.process))
    .map((c) => ({ id: c.Id, name: `${c.Labels['pier.process']}.${c.Labels['pier.index'] || '1'}`, state: c.State }));
}

/**
 * Containers with a TTY (interactive one-off runs) write raw output, the others Docker's
 * multiplexed frames; a one-off whose output goes elsewhere has no Docker log at all.
 */
async function logKind(container: Docker.Container): Promise<{ tty: boolean; logged: boolean }> {
  const info = await container.inspect();
  return { tty: info.Config.Tty, logged: info.HostConfig.LogConfig?.Type !== 'none' };
}

/**
 * The last `tail` lines of the app's containers, running or exited (a crashed instance keeps its
 * log file while the container exists), in time order; and the cursor to follow them from.
 */
export async function recentContainerLogs(docker: Docker, scope: LogScope, tail: number): Promise<{ lines: LogLine[]; cursor: LogCursor }> {
  const containers = await loggedContainers(docker, scope);
  const perContainer = await Promise.all(
    containers.map(async ({ id, name }) => {
      const container = docker.getContainer(id);
      try {
        const { tty, logged } = await logKind(container);
        if (!logged) return [];
        const raw = await container.logs({ stdout: true, stderr: true, timestamps: true, tail, follow: false });
        const lines: LogLine[] = [];
        for (const text of (tty ? raw.toString('utf8') : demuxDockerFrames(raw)).split(/\r?\n/)) {
          const parsed = parseDockerLine(text);
          if (parsed) lines.push({ ...parsed, source: name });
        }
        return lines;
      } catch {
        // Removed since it was listed (an old instance retired): it has nothing to show any more.
        return [];
      }
    }),
  );
  const cursor = Object.fromEntries(containers.map((c, i) => [c.id, perContainer[i]!.at(-1)?.time ?? '']));
  return { lines: latestLines(perContainer, tail), cursor };
}

/**
 * New output of the app's containers after `cursor`, line by line as it comes, until `signal`
 * aborts: from the containers running now and from those that start later (a deploy, a scale, a
 * restart in place). Lines of different containers come in the order they arrive.
 */
export function followContainerLogs(docker: Docker, scope: LogScope, cursor: LogCursor, signal: AbortSignal): AsyncIterable<LogLine> {
  const out = new Channel<LogLine>();
  /** What the follower knows of each container: the time of its last line read, its state at the last poll. */
  const known = new Map<string, Followed>(Object.entries(cursor).map(([id, last]) => [id, { last, attached: false, unlogged: false }]));
  let timer: NodeJS.Timeout | undefined;

  const attach = async ({ id, name }: Logged, followed: Followed) => {
    const container = docker.getContainer(id);
    // Docker's `since` includes lines at that very time: the last line read already is skipped below.
    const since = followed.last;
    const { tty, logged } = await logKind(container);
    if (!logged) return void (followed.unlogged = true);
    const stream = (await container.logs({
      follow: true,
      stdout: true,
      stderr: true,
      timestamps: true,
      ...(since ? { since: dockerSince(since) } : {}),
      abortSignal: signal,
    })) as Readable;
    const emit = (raw: string) => {
      const parsed = parseDockerLine(raw);
      if (!parsed || (since && parsed.time <= since)) return;
      if (parsed.time > followed.last) followed.last = parsed.time;
      out.push({ ...parsed, source: name });
    };
    // One splitter per stream, so a partial stdout line is never glued to a stderr one.
    const splitters = [new LineSplitter(emit), new LineSplitter(emit)] as const;
    const feed = (from: Readable, splitter: LineSplitter) => {
      from.setEncoding('utf8');
      from.on('data', (chunk: string) => splitter.push(chunk));
    };
    if (tty) {
      feed(stream, splitters[0]);
    } else {
      const [stdout, stderr] = [new PassThrough(), new PassThrough()];
      feed(stdout, splitters[0]);
      feed(stderr, splitters[1]);
      docker.modem.demuxStream(stream, stdout, stderr);
    }
    await new Promise<void>((resolve) => {
      stream.on('error', () => resolve());
      // Docker ends a follow when the container stops; a restart is picked up by the next poll.
      stream.on('close', () => resolve());
    });
    // The demuxer's last chunk reaches the splitters a tick after the close.
    await new Promise((resolve) => setImmediate(resolve));
    for (const s of splitters) s.flush();
  };

  const poll = async () => {
    try {
      const containers = await loggedContainers(docker, scope);
      const present = new Set(containers.map((c) => c.id));
      for (const id of [...known.keys()]) if (!present.has(id)) known.delete(id);
      for (const c of containers) {
        const followed = known.get(c.id) ?? { last: '', attached: false, unlogged: false };
        known.set(c.id, followed);
        const changed = followed.state !== c.state;
        followed.state = c.state;
        // A container that ran and stopped between two polls is read once, up to where it ended.
        if (followed.attached || followed.unlogged || (c.state !== 'running' && !changed)) continue;
        followed.attached = true;
        void attach(c, followed)
          .catch(() => undefined)
          .finally(() => (followed.attached = false));
      }
    } catch {
      // dockerd restarting: the next poll tries again
    }
    if (!signal.aborted) timer = setTimeout(() => void poll(), POLL_MS);
  };

  const stop = () => {
    clearTimeout(timer);
    out.close();
  };
  if (signal.aborted) stop();
  else {
    signal.addEventListener('abort', stop, { once: true });
    void poll();
  }
  return out;
}
