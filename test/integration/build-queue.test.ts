import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { createBuildQueue } from '../../src/build/build-queue.js';
import { BuildService } from '../../src/build/build-service.js';
import { startBuildWorker } from '../../src/build/build-worker.js';
import type { AppImages } from '../../src/build/app-images.js';
import type { Builder, BuildRequest } from '../../src/build/builder.js';
import { createLogger } from '../../src/log.js';
import type { ReleaseService } from '../../src/release/release-service.js';
import { createState, type State } from '../../src/state/index.js';
import { waitFor } from '../helpers/http.js';
import { connectTestRedis, deleteInstanceKeys, uniqueInstance } from '../helpers/redis.js';

/**
 * The subject is the queue's scheduling (BullMQ on a real Redis, the per-app lock); the builder
 * and release steps are stand-ins that only record when each build runs.
 */
describe('the build queue', function () {
  this.timeout(60_000);
  let redis: Redis;
  let state: State;
  let instance: string;
  const connections: Redis[] = [];

  before(async () => {
    redis = await connectTestRedis();
    instance = uniqueInstance('bq');
    state = createState(redis, instance);
  });

  after(async () => {
    await deleteInstanceKeys(redis, instance);
    for (const c of connections) c.disconnect();
    redis.disconnect();
  });

  const dup = () => {
    const c = redis.duplicate({ maxRetriesPerRequest: null });
    connections.push(c);
    return c;
  };

  it('runs one build per app at a time while other apps build in parallel, in push order', async () => {
    const spans: Array<{ app: string; commit: string; start: number; end: number }> = [];
    const builder = {
      build: async (req: BuildRequest) => {
        const start = Date.now();
        req.log('-----> pretend build');
        await new Promise((r) => setTimeout(r, 600));
        spans.push({ app: req.app, commit: req.buildId, start, end: Date.now() });
        return { image: `img:${req.buildId}`, processTypes: { web: 'true' }, runtime: { kind: 'buildpack' as const, port: 5000, user: '1000:1000' } };
      },
    } satisfies Builder;
    const releases = { release: async () => ({}), settled: async () => undefined } as unknown as ReleaseService;
    const images = { prune: async () => [], removeBuildContainers: async () => undefined } as unknown as AppImages;
    const prefix = state.keys.queuePrefix;
    const queue = createBuildQueue(dup(), prefix);
    const worker = startBuildWorker(
      dup(),
      { state, builder, images, releases, log: createLogger('silent') },
      { prefix, concurrency: 3, timeoutSec: 60, appUrl: async (a) => `http://${a}`, keepReleases: 5, minFreeDiskMb: 0, diskDirs: async () => [] },
    );
    try {
      const service = new BuildService(state, queue);
      const job = (app: string, commit: string) => service.enqueue({ app, commit, origin: 'git', sourceTar: `/nonexistent/${commit}.tar`, createdBy: 'test' });
      const a1 = await job('alpha', 'a'.repeat(40));
      // Pushed once the first build runs: a push that finds it still queued supersedes it instead.
      await waitFor(() => state.builds.get(a1), (b) => b?.status === 'running', 'the first alpha build to start', 10_000);
      const a2 = await job('alpha', 'b'.repeat(40));
      const b1 = await job('beta', 'c'.repeat(40));
      const deadline = Date.now() + 30_000;
      for (const id of [a1, a2, b1]) {
        while ((await state.builds.get(id))?.status !== 'succeeded') {
          if (Date.now() > deadline) throw new Error(`build ${id} did not finish: ${JSON.stringify(await state.builds.get(id))}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const span = (id: string) => spans.find((s) => s.commit === id)!;
      expect(span(a2).start, 'the second alpha build starts after the first ends').to.be.at.least(span(a1).end);
      expect(span(b1).start, 'beta builds while alpha builds').to.be.below(span(a1).end);
      const log: string[] = [];
      const reader = dup();
      for await (const event of state.builds.follow(reader, a2)) {
        if (event.type === 'line') log.push(event.line);
      }
      expect(log[0]).to.equal('-----> Building alpha from commit bbbbbbb');
      expect(log).to.include('       http://alpha');
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
