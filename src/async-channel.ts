/**
 * A queue that any number of producers push into and one consumer reads with `for await`. It ends
 * once closed and drained; closed with an error, the consumer gets that error after the items.
 */
export class Channel<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private error: unknown;

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.notify();
  }

  close(error?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.error = error;
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.items.length > 0) {
        const batch = this.items;
        this.items = [];
        yield* batch;
      } else if (this.closed) {
        if (this.error !== undefined) throw this.error;
        return;
      } else {
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Items of every source as they arrive, in no other order; ends when all have ended, fails when one fails. */
export function interleave<T>(sources: AsyncIterable<T>[]): AsyncIterable<T> {
  const out = new Channel<T>();
  let open = sources.length;
  if (open === 0) out.close();
  for (const source of sources) {
    void (async () => {
      try {
        for await (const item of source) out.push(item);
        if (--open === 0) out.close();
      } catch (err) {
        out.close(err);
      }
    })();
  }
  return out;
}
