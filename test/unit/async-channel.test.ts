import { expect } from 'chai';
import { Channel, interleave } from '../../src/async-channel.js';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('async channel', () => {
  it('hands items pushed before and while the consumer waits, in push order, and ends once closed', async () => {
    const channel = new Channel<number>();
    channel.push(1);
    const done = collect(channel);
    await tick();
    channel.push(2);
    channel.push(3);
    channel.close();
    expect(await done).to.deep.equal([1, 2, 3]);
  });

  it('ignores pushes after close', async () => {
    const channel = new Channel<string>();
    channel.push('kept');
    channel.close();
    channel.push('dropped');
    expect(await collect(channel)).to.deep.equal(['kept']);
  });

  it('closed with an error, gives the items first, then throws it', async () => {
    const channel = new Channel<string>();
    const seen: string[] = [];
    channel.push('before');
    channel.close(new Error('redis went away'));
    let error: Error | undefined;
    try {
      for await (const item of channel) seen.push(item);
    } catch (err) {
      error = err as Error;
    }
    expect(seen).to.deep.equal(['before']);
    expect(error?.message).to.equal('redis went away');
  });

  describe('interleave', () => {
    async function* slow(items: string[], waitMs: number) {
      for (const item of items) {
        await new Promise((r) => setTimeout(r, waitMs));
        yield item;
      }
    }

    it('yields items of every source as they arrive and ends when all have ended', async () => {
      const items = await collect(interleave([slow(['slow'], 30), slow(['fast-1', 'fast-2'], 1)]));
      expect(items).to.deep.equal(['fast-1', 'fast-2', 'slow']);
    });

    it('with no sources, ends at once', async () => {
      expect(await collect(interleave([]))).to.deep.equal([]);
    });

    it('fails when one source fails', async () => {
      async function* broken(): AsyncGenerator<string> {
        yield 'one';
        throw new Error('docker went away');
      }
      let error: Error | undefined;
      try {
        await collect(interleave([broken(), slow(['late'], 50)]));
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message).to.equal('docker went away');
    });
  });
});
