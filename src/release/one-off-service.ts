import type { Logger } from '../log.js';
import type { OneOffRequest, OneOffSession, Scheduler } from '../scheduler/scheduler.js';
import type { State } from '../state/index.js';
import { ReleaseError } from './release-service.js';
import { runContext } from './run-context.js';

export interface OneOffRun {
  argv: string[];
  /** Env of this run only, over the app's config. */
  env: Record<string, string>;
  /** The name of the token that asked. */
  who: string;
}

/** How an argv reads in a shell, for the app's log and the CLI: one word is a shell line already. */
export function commandText(argv: string[]): string {
  if (argv.length === 0) return 'bash';
  if (argv.length === 1) return argv[0]!;
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/** pier run and run:detached: one-off containers of the current release, with the app's env, user and launcher. */
export class OneOffService {
  /** Runs attached to a client. */
  private readonly attached = new Set<OneOffSession>();
  /** Detached runs whose output is being copied to their app's log. */
  private readonly following = new Set<OneOffSession>();
  private stopping = false;

  constructor(private readonly state: State, private readonly scheduler: Scheduler, private readonly log: Logger) {}

  /** Starts the command attached to the caller: its stdin, stdout and stderr are the session's. */
  async attach(app: string, run: OneOffRun & { tty: boolean }): Promise<OneOffSession> {
    const session = await this.start(app, run, { argv: run.argv, tty: run.tty, stdin: true }, '');
    this.attached.add(session);
    session
      .wait()
      .then((code) => this.event(app, `${session.name} exited with code ${code}`), () => undefined)
      .finally(() => this.attached.delete(session));
    return session;
  }

  /**
   * Starts the command on its own and returns its name (run.N) at once. Its output goes to the
   * app's log as `run.N` lines (Docker keeps none, so `pier logs` shows each line once); the
   * container goes when the command exits.
   */
  async detach(app: string, run: OneOffRun): Promise<string> {
    const session = await this.start(app, run, { argv: run.argv, tty: false, stdin: false, unlogged: true }, ' (detached)');
    this.following.add(session);
    void this.follow(app, session).finally(() => this.following.delete(session));
    return session.name;
  }

  /** True once close() began: runs ending now were stopped by it. */
  get closing(): boolean {
    return this.stopping;
  }

  /**
   * Daemon shutdown: attached runs are killed, as their clients' connections end with the daemon
   * (the clients are told why). Detached runs go on, but what they print from now on is not kept.
   */
  async close(): Promise<void> {
    this.stopping = true;
    for (const session of this.following) session.detach();
    await Promise.all([...this.attached].map(async (session) => {
      await session.kill();
      await session.wait().catch(() => undefined);
    }));
  }

  private async start(app: string, run: OneOffRun, request: OneOffRequest, how: string): Promise<OneOffSession> {
    const record = await this.state.apps.get(app);
    const release = record && record.currentRelease > 0 ? await this.state.releases.get(app, record.currentRelease) : undefined;
    if (!release) throw new ReleaseError(`${app} has no release yet, so there is nothing to run. Deploy it first: git push`);
    const ctx = await runContext(this.state, app, release);
    const session = await this.scheduler.startOneOff(app, { ...release, config: { ...release.config, ...run.env } }, ctx, request);
    await this.event(app, `Running \`${commandText(run.argv)}\` as ${session.name}${how} by ${run.who}`);
    return session;
  }

  private async follow(app: string, session: OneOffSession): Promise<void> {
    let lost = false;
    // A line that cannot be stored is dropped, never waited on: the run must not block on its output.
    const keep = (line: string) =>
      this.state.events.append(app, session.name, line).catch((err: unknown) => {
        if (!lost && !this.stopping) this.log.warn({ err, app, run: session.name }, 'could not store the output of a detached run');
        lost = true;
      });
    try {
      await session.lines(keep);
      await this.event(app, `${session.name} exited with code ${await session.wait()}`);
    } catch (err) {
      if (!this.stopping) this.log.warn({ err, app, run: session.name }, 'lost track of a detached run');
    }
  }

  private async event(app: string, line: string): Promise<void> {
    await this.state.events.append(app, 'pier', line).catch((err: unknown) => this.log.warn({ err, app }, 'could not record an app event'));
  }
}
