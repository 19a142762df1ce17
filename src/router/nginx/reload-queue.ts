/**
 * Runs a job one at a time, coalescing requests: a request made while a run is in progress is served
 * by one more run after it, shared with every other request made meanwhile. So a burst of route
 * changes costs two reloads, not one per change, and each caller learns the outcome of a run that
 * started after its change (and so includes it).
 */
export class CoalescingQueue {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly job: () => Promise<void>) {}

  request(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  /** The outcome of the run that serves every request made so far (resolved when none was made). */
  latest(): Promise<void> {
    return this.next ?? this.running ?? Promise.resolve();
  }

  /** Resolves once no run is in progress or queued, whatever their outcome. */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  private start(): Promise<void> {
    this.next = undefined;
    const run = this.job().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
