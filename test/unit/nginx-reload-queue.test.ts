import { expect } from 'chai';
import { CoalescingQueue } from '../../src/router/nginx/reload-queue.js';

/** A job whose runs are counted and finish only when the test lets them. */
function gatedJob() {
  const gates: Array<(err?: Error) => void> = [];
  let running = 0;
  let maxRunning = 0;
  const job = () =>
    new Promise<void>((resolve, reject) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      gates.push((err) => {
        running--;
        if (err) reject(err);
        else resolve();
      });
    });
  const tick = () => new Promise((r) => setImmediate(r));
  return { job, gates, runs: () => gates.length, maxRunning: () => maxRunning, tick };
}

describe('reload queue (serialised, coalesced)', () => {
  it('runs at once when idle', async () => {
    const g = gatedJob();
    const q = new CoalescingQueue(g.job);
    const done = q.request();
    expect(g.runs()).to.equal(1);
    g.gates[0]!();
    await done;
  });

  it('serves a burst during a run with one more run, never two at a time', async () => {
    const g = gatedJob();
    const q = new CoalescingQueue(g.job);
    const first = q.request();
    const burst = Array.from({ length: 10 }, () => q.request());
    expect(g.runs()).to.equal(1);
    g.gates[0]!();
    await first;
    await g.tick();
    expect(g.runs()).to.equal(2);
    expect(g.maxRunning()).to.equal(1);
    let settled = false;
    void Promise.all(burst).then(() => (settled = true));
    await g.tick();
    expect(settled, 'the burst waits for the run that includes it').to.equal(false);
    g.gates[1]!();
    await Promise.all(burst);
    expect(g.runs()).to.equal(2);
  });

  it('tells the callers of a failed run why, and runs again for the next request', async () => {
    const g = gatedJob();
    const q = new CoalescingQueue(g.job);
    const failed = q.request();
    g.gates[0]!(new Error('nginx refused it'));
    await failed.then(
      () => expect.fail('the run failed'),
      (err: Error) => expect(err.message).to.equal('nginx refused it'),
    );
    const next = q.request();
    expect(g.runs()).to.equal(2);
    g.gates[1]!();
    await next;
  });

  it('a request after a failed run in progress still gets a run of its own', async () => {
    const g = gatedJob();
    const q = new CoalescingQueue(g.job);
    const first = q.request().catch(() => undefined);
    const later = q.request();
    g.gates[0]!(new Error('refused'));
    await first;
    await g.tick();
    expect(g.runs()).to.equal(2);
    g.gates[1]!();
    await later;
    await q.idle();
  });

  it('latest() is the run that serves every request so far: none, the one running, then the one queued', async () => {
    const g = gatedJob();
    const q = new CoalescingQueue(g.job);
    await q.latest();
    const first = q.request();
    expect(q.latest()).to.equal(first);
    const second = q.request();
    expect(q.latest()).to.equal(second);
    g.gates[0]!();
    await first;
    await g.tick();
    let settled = false;
    void q.latest().then(() => (settled = true));
    await g.tick();
    expect(settled, 'the queued run has not finished').to.equal(false);
    g.gates[1]!();
    await second;
    await q.latest();
  });
});
