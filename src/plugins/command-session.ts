import { PassThrough } from 'node:stream';
import type { AttachedSession } from '../scheduler/scheduler.js';
import type { ExecHandoff } from './protocol.js';
import type { OutputSink } from './runner.js';

/**
 * A plugin's stream command, attached to its caller: first the plugin's own call, whose output
 * reaches the caller as it is written; then, when the call resolves with an ExecHandoff, the
 * command in the plugin's service, connected to the caller's stdin, stdout and stderr. From the
 * handoff on the bytes flow between the caller and Docker, never through the plugin's process,
 * and the plugin's call (with its timeout) is over.
 */
export class CommandSession implements AttachedSession {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** What the caller types or pipes; it waits here (the caller paused) until the handoff, if any. */
  readonly stdin = new PassThrough();
  private exec?: AttachedSession;
  private killed = false;
  private size?: { cols: number; rows: number };
  private readonly exit: Promise<number>;

  constructor(
    call: (onOutput: OutputSink) => Promise<number | ExecHandoff>,
    /** `size` is the caller's terminal size, when known. */
    private readonly attach: (handoff: ExecHandoff, size?: { cols: number; rows: number }) => Promise<AttachedSession>,
  ) {
    this.exit = this.run(call);
    this.exit.catch(() => undefined);
  }

  wait(): Promise<number> {
    return this.exit;
  }

  async resize(cols: number, rows: number): Promise<void> {
    this.size = { cols, rows };
    await this.exec?.resize(cols, rows);
  }

  async kill(): Promise<void> {
    this.killed = true;
    await this.exec?.kill();
  }

  private async run(call: (onOutput: OutputSink) => Promise<number | ExecHandoff>): Promise<number> {
    let exec: AttachedSession;
    try {
      const result = await call((stream, data) => this[stream].write(data));
      if (typeof result === 'number' || this.killed) {
        this.stdin.resume();
        this.end();
        return typeof result === 'number' ? result : 137;
      }
      exec = await this.attach(result, this.size);
    } catch (err) {
      this.end();
      throw err;
    }
    this.exec = exec;
    if (this.killed) await exec.kill();
    this.stdin.pipe(exec.stdin!);
    exec.stdout.pipe(this.stdout);
    exec.stderr.pipe(this.stderr);
    return exec.wait();
  }

  private end(): void {
    this.stdout.end();
    this.stderr.end();
  }
}
