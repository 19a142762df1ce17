/**
 * Disk use over many deploys: one small app is pushed BENCH_DEPLOYS (200) times, each push a
 * one-line change, and after every push the bench measures what the deploys leave behind:
 *
 *   images    the app's images (repository <instance>/app-<app>): how many, and the disk their
 *             layers take on top of the stack image's, a layer shared by several images counted once;
 *   new       what this deploy's image added: its layers no earlier image had. Summed over the run
 *             it is what the same deploys would take without pruning, the reference the kept disk
 *             is compared against;
 *   dangling  untagged images of the instance (left-over build layers) and the disk only they hold;
 *   cache     the app's build cache volume (<instance>-cache-<app>);
 *   free      free space of the filesystem holding Docker's data (statfs of Docker's root dir): the
 *             figure a user sees, though on a shared machine other work moves it too;
 * and, on the printed rows only, the Redis memory of the instance's keys (build records and logs,
 * releases) and the size of PIER_HOME (git repository, uploaded sources).
 *
 * Layer sizes are read off the layer folders: the overlay2 `diff` folders that `docker image
 * inspect` names (GraphDriver UpperDir and LowerDir), measured with `du` in allocated blocks. So a
 * layer that several images share is counted once, and the figure is disk, not file bytes. Layers
 * never change once written, so each is measured once. Docker's own Size/SharedSize (GET
 * /system/df) de-duplicate too, but that call sizes every volume and container on the host; it is
 * called once at the end, as a cross-check.
 *
 *   npx tsx bench/disk/run.ts
 *   BENCH_FIXTURE=dockerfile-app BENCH_DEPLOYS=100 npx tsx bench/disk/run.ts
 *
 * Fixtures: test/fixtures/node-app (the default: a Node.js buildpack app, whose every build commits
 * a new image with one layer holding all of /app, Node and node_modules included: the worst case for
 * disk) or test/fixtures/dockerfile-app (Docker's layer cache shares the layers before the COPY of
 * the changed file). The change is one comment line at the end of the app's source file.
 *
 * Pace (BENCH_PACE): `settled` (the default) waits after each push until the old instance has
 * stopped and Pier's second pruning pass, made then, is done, and measures then: every row is the
 * steady state. `back-to-back` pushes again as soon as git returns and measures at once, the old
 * instance still draining; the last push is then followed by the same wait and one more measure.
 * (Back to back, that second pass can land between the next build's commit of its image and the
 * creation of its release, remove that image as one no kept release refers to, and fail the deploy
 * with "No such image".) Each deploy is checked: the push exits 0 and says "Application deployed",
 * and the app answers 200 through the router.
 *
 * Starts a whole Pier daemon in-process under its own instance name (TestPier), with
 * PIER_KEEP_RELEASES=BENCH_KEEP (5, Pier's default), so it never touches an installed Pier; its
 * requests go to that daemon's API and router on loopback only; everything it creates is removed at
 * the end. Needs Docker with the overlay2 storage driver, root (the layer folders are root's), git,
 * the stack image, the npm registry and a Redis (PIER_TEST_REDIS_URL). Bounded: BENCH_BUDGET_S (900)
 * seconds of deploying, after which it stops early and reports the deploys done so far; then at most
 * 45 s of settling, 30 s for Docker's count and 60 s of clean-up; a watchdog exits should even that
 * overrun (bench/lib/budget.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { appendFile, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { TestPier, commitAll } from '../../test/helpers/test-pier.js';
import { connectTestRedis } from '../../test/helpers/redis.js';
import { BenchAbort, Budget } from '../lib/budget.js';
import { indent, killGroup, median } from '../lib/common.js';

/** The file each push changes, and how a comment line starts in it. */
const FIXTURES: Record<string, { file: string; comment: string }> = {
  'node-app': { file: 'server.js', comment: '//' },
  'dockerfile-app': { file: 'server.py', comment: '#' },
};

const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 200);
const BUDGET_MS = Number(process.env.BENCH_BUDGET_S ?? 900) * 1000;
const KEEP = Number(process.env.BENCH_KEEP ?? 5);
const FIXTURE = process.env.BENCH_FIXTURE ?? 'node-app';
const PACES = ['settled', 'back-to-back'];
const PACE = process.env.BENCH_PACE ?? 'settled';
const APP = 'bench-disk';
/** A table row every this many deploys (and at deploy 1 and deploy KEEP). */
const ROW_EVERY = 20;
/** The first push downloads Node and packages; later ones reuse the build cache. */
const FIRST_PUSH_CAP_MS = 240_000;
const PUSH_CAP_MS = 120_000;
const SETTLE_MS = 45_000;
/** GET /system/df sizes every volume and container on the host. */
const DOCKER_DF_MS = 30_000;
const CLEANUP_MS = 60_000;
const MB = 1024 * 1024;

const t0 = performance.now();
// Deploying gets BENCH_BUDGET_S; the final settling and Docker's count come on top, within the watchdog.
const budget = new Budget('Disk bench', BUDGET_MS + SETTLE_MS + DOCKER_DF_MS, CLEANUP_MS);
const { abort } = budget;

/** Layers of a Dockerfile app weigh kilobytes, a buildpack app's image a hundred megabytes: the unit follows. */
function size(bytes: number | undefined): string {
  if (bytes === undefined) return 'n/a';
  const abs = Math.abs(bytes);
  if (abs < MB) return `${(bytes / 1024).toFixed(0)} KB`;
  if (abs < 1024 * MB) return `${(bytes / MB).toFixed(1)} MB`;
  return `${(bytes / 1024 / MB).toFixed(2)} GB`;
}
const signedSize = (bytes: number) => `${bytes >= 0 ? '+' : ''}${size(bytes)}`;
const secs = (ms: number) => (ms / 1000).toFixed(1);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function checkKnobs(): void {
  if (!FIXTURES[FIXTURE]) throw new Error(`BENCH_FIXTURE must be one of ${Object.keys(FIXTURES).join(', ')} (got "${FIXTURE}")`);
  if (!PACES.includes(PACE)) throw new Error(`BENCH_PACE must be one of ${PACES.join(', ')} (got "${PACE}")`);
  for (const [name, value] of [['BENCH_DEPLOYS', DEPLOYS], ['BENCH_KEEP', KEEP], ['BENCH_BUDGET_S', BUDGET_MS / 1000]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number, at least 1 (got "${process.env[name]}")`);
  }
}

// ---- pushing -----------------------------------------------------------------------------------

interface Push {
  ms: number;
  /** The images Pier said it pruned right after this deploy. */
  pruned: number;
}

/** `git push` of HEAD to the app, bounded in time; fails with the push's output unless it deployed. */
function push(pier: TestPier, repo: string, deploy: number, timeoutMs: number): Promise<Push> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('git', ['push', '--force', pier.gitUrl(APP), 'HEAD:main'], {
      cwd: repo,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const group = child.pid;
    if (group !== undefined) budget.children.add(group);
    let output = '';
    let failure: Error | undefined;
    const collect = (d: Buffer) => (output += d.toString());
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const stop = (err: Error) => {
      failure ??= err;
      if (child.pid !== undefined) killGroup(child.pid);
    };
    const timer = setTimeout(
      () => stop(new BenchAbort(`push ${deploy} did not finish within ${secs(timeoutMs)} s. Its output so far:\n${indent(output.split('\n').slice(-40).join('\n'))}`)),
      timeoutMs,
    );
    const onAbort = () => stop(abort.signal.reason as Error);
    abort.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => (failure ??= err));
    child.on('close', (code) => {
      clearTimeout(timer);
      abort.signal.removeEventListener('abort', onAbort);
      if (group !== undefined) budget.children.delete(group);
      if (failure) return reject(failure);
      if (code !== 0 || !/Application deployed in/.test(output)) {
        return reject(new Error(`push ${deploy} did not deploy (exit ${code}). Its output:\n${indent(output)}`));
      }
      resolve({ ms: performance.now() - started, pruned: Number(/Pruned (\d+) image/.exec(output)?.[1] ?? 0) });
    });
  });
}

/** The one-line change: a new comment line at the end of the fixture's source file. */
async function changeOneLine(repo: string, deploy: number): Promise<void> {
  const { file, comment } = FIXTURES[FIXTURE]!;
  await appendFile(path.join(repo, file), `${comment} bench deploy ${deploy}\n`);
  await commitAll(repo, `bench: deploy ${deploy}`);
}

// ---- measuring ---------------------------------------------------------------------------------

interface Sample {
  deploy: number;
  pushMs: number;
  pruned: number;
  images: number;
  /** Disk of the app's images beyond the stack image, each layer once. */
  appBytes: number;
  /** Disk of the layers this deploy's image brought that no earlier image had. */
  newBytes: number;
  dangling: number;
  /** Disk of the dangling images' layers that no app image or the stack holds. */
  danglingBytes: number;
  cacheBytes: number;
  freeBytes: number;
  containers: number;
  redis?: { keys: number; bytes: number };
  homeBytes?: number;
}

/** Allocated bytes of each folder (du -B1); a folder gone meanwhile is left out. */
function du(dirs: string[]): Promise<Map<string, number>> {
  if (dirs.length === 0) return Promise.resolve(new Map());
  return new Promise((resolve, reject) => {
    // du exits 1 when a folder vanished (an image pruned meanwhile); what it printed still holds.
    execFile('du', ['-s', '-B1', '--', ...dirs], { timeout: 60_000, maxBuffer: 16 * MB }, (err, stdout) => {
      if (err && (err.killed || typeof err.code !== 'number')) return reject(new Error(`du failed: ${err.message}`));
      const sizes = new Map<string, number>();
      for (const line of stdout.split('\n')) {
        const m = /^(\d+)\t(.*)$/.exec(line);
        if (m) sizes.set(m[2]!, Number(m[1]));
      }
      resolve(sizes);
    });
  });
}

class DiskMeter {
  private readonly layerBytes = new Map<string, number>();
  private readonly layersOfImage = new Map<string, string[]>();
  private readonly seen = new Set<string>();
  private readonly label: string;

  private constructor(
    private readonly docker: Docker,
    private readonly pier: TestPier,
    readonly dockerRoot: string,
    private readonly stackLayers: Set<string>,
  ) {
    this.label = `pier.instance=${pier.settings.instance}`;
  }

  static async create(docker: Docker, pier: TestPier): Promise<DiskMeter> {
    const info = (await docker.info()) as { Driver: string; DockerRootDir: string };
    if (info.Driver !== 'overlay2') {
      throw new Error(`this bench reads layer sizes from overlay2's layer folders, but Docker's storage driver here is ${info.Driver}`);
    }
    const stack = await layerDirs(docker, pier.settings.stackImage);
    return new DiskMeter(docker, pier, info.DockerRootDir, new Set(stack));
  }

  get repository(): string {
    return `${this.pier.settings.instance}/app-${APP}`;
  }

  async sample(deploy: number, pushed: Push, detail: boolean): Promise<Sample> {
    const { settings } = this.pier;
    const images = await this.docker.listImages({ filters: { reference: [`${this.repository}:*`] } });
    const appLayers = new Set<string>();
    let present = 0;
    for (const img of images) {
      const layers = await this.layers(img.Id);
      if (!layers) continue;
      present++;
      for (const l of layers) appLayers.add(l);
    }
    const fresh = [...appLayers].filter((l) => !this.seen.has(l));
    for (const l of fresh) this.seen.add(l);

    const dangling = await this.docker.listImages({ filters: { dangling: ['true'], label: [this.label] } });
    const danglingLayers = new Set<string>();
    for (const img of dangling) for (const l of (await this.layers(img.Id)) ?? []) if (!appLayers.has(l)) danglingLayers.add(l);

    const cache = await this.docker
      .getVolume(`${settings.instance}-cache-${APP}`)
      .inspect()
      .then((v) => v.Mountpoint, () => undefined);
    const cacheBytes = cache ? ((await du([cache])).get(cache) ?? 0) : 0;
    const fs = await statfs(this.dockerRoot);
    const containers = await this.docker.listContainers({ all: true, filters: { label: [this.label, `pier.app=${APP}`] } });

    const sample: Sample = {
      deploy,
      pushMs: pushed.ms,
      pruned: pushed.pruned,
      images: present,
      appBytes: await this.bytes([...appLayers]),
      newBytes: await this.bytes(fresh),
      dangling: dangling.length,
      danglingBytes: await this.bytes([...danglingLayers]),
      cacheBytes,
      freeBytes: fs.bavail * fs.bsize,
      containers: containers.length,
    };
    if (detail) {
      sample.redis = await redisUsage(settings.instance);
      sample.homeBytes = (await du([settings.home])).get(settings.home);
    }
    return sample;
  }

  /** The image's layer folders beyond the stack's; undefined when the image is gone (pruned meanwhile). */
  private async layers(imageId: string): Promise<string[] | undefined> {
    let layers = this.layersOfImage.get(imageId);
    if (!layers) {
      const dirs = await layerDirs(this.docker, imageId).catch(() => undefined);
      if (!dirs) return undefined;
      layers = dirs.filter((d) => !this.stackLayers.has(d));
      this.layersOfImage.set(imageId, layers);
    }
    return layers;
  }

  private async bytes(layers: string[]): Promise<number> {
    const unknown = layers.filter((l) => !this.layerBytes.has(l));
    for (const [dir, bytes] of await du(unknown)) this.layerBytes.set(dir, bytes);
    return sum(layers.map((l) => this.layerBytes.get(l) ?? 0));
  }

  /** Docker's own accounting of the app's images, for comparison: Σ (Size − SharedSize), Σ Size. */
  async dockerView(): Promise<{ unique: number; virtual: number }> {
    const df = (await this.docker.df()) as { Images: Array<{ RepoTags: string[] | null; Size: number; SharedSize: number }> };
    const mine = df.Images.filter((i) => (i.RepoTags ?? []).some((t) => t.startsWith(`${this.repository}:`)));
    return { unique: sum(mine.map((i) => i.Size - Math.max(i.SharedSize, 0))), virtual: sum(mine.map((i) => i.Size)) };
  }
}

/** The overlay2 `diff` folders of an image, top layer first. */
async function layerDirs(docker: Docker, image: string): Promise<string[]> {
  const { GraphDriver } = await docker.getImage(image).inspect();
  const data = GraphDriver.Data as unknown as Record<string, string | undefined>;
  return [data.UpperDir, ...(data.LowerDir?.split(':') ?? [])].filter((d): d is string => Boolean(d));
}

/** Keys of the instance and the memory Redis reports for them (MEMORY USAGE), which its AOF persists. */
async function redisUsage(instance: string): Promise<{ keys: number; bytes: number }> {
  const redis = await connectTestRedis();
  try {
    let cursor = '0';
    const usage = { keys: 0, bytes: 0 };
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${instance}:*`, 'COUNT', 500);
      cursor = next;
      const pipeline = redis.pipeline();
      for (const k of keys) pipeline.memory('USAGE', k);
      for (const [, bytes] of (await pipeline.exec()) ?? []) {
        usage.keys++;
        usage.bytes += Number(bytes ?? 0);
      }
    } while (cursor !== '0');
    return usage;
  } finally {
    redis.disconnect();
  }
}

/** After a push the old instances stop, then Pier prunes again: waits for both, at most `waitMs`. */
async function settle(docker: Docker, meter: DiskMeter, instance: string, waitMs: number): Promise<boolean> {
  const until = performance.now() + waitMs;
  const label = [`pier.instance=${instance}`, `pier.app=${APP}`];
  while (performance.now() < until && !abort.signal.aborted) {
    const containers = await docker.listContainers({ all: true, filters: { label } });
    const images = await docker.listImages({ filters: { reference: [`${meter.repository}:*`] } });
    if (containers.length <= 1 && images.length <= KEEP) {
      // The second pass starts once the last old instance is removed and takes a few Docker calls.
      await budget.sleep(1000);
      return true;
    }
    await budget.sleep(250);
  }
  return false;
}

// ---- the report --------------------------------------------------------------------------------

const COLUMNS: Array<[string, number, (s: Sample, start: Sample) => string]> = [
  ['deploy', 8, (s) => String(s.deploy)],
  ['push s', 7, (s) => secs(s.pushMs)],
  ['pruned', 7, (s) => String(s.pruned)],
  ['images', 7, (s) => String(s.images)],
  ['app', 10, (s) => size(s.appBytes)],
  ['new', 10, (s) => size(s.newBytes)],
  ['dangling', 9, (s) => String(s.dangling)],
  ['dangl', 8, (s) => size(s.danglingBytes)],
  ['cache', 10, (s) => size(s.cacheBytes)],
  ['ctrs', 5, (s) => String(s.containers)],
  ['free', 10, (s) => size(s.freeBytes)],
  ['free Δ', 11, (s, start) => signedSize(s.freeBytes - start.freeBytes)],
  ['redis keys', 11, (s) => (s.redis ? String(s.redis.keys) : '')],
  ['redis', 9, (s) => (s.redis ? size(s.redis.bytes) : '')],
  ['home', 9, (s) => size(s.homeBytes)],
];

const printHeader = () => console.log(COLUMNS.map(([name, w]) => name.padStart(w)).join(''));
const printRow = (s: Sample, start: Sample) => console.log(COLUMNS.map(([, w, cell]) => cell(s, start).padStart(w)).join(''));

interface Run {
  samples: Sample[];
  /** Before the first deploy. */
  start: Sample;
  /** After the last deploy, once the old instances stopped and the second pruning pass ran. */
  settled: Sample;
  /** Waits (after a deploy, and the final one) that ended with old instances still there after SETTLE_MS. */
  unsettled: number;
  /** Milliseconds of each whole round after the first (change, push, check, settle, measure). */
  rounds: number[];
  dockerView?: { unique: number; virtual: number };
}

function report({ samples, start, settled, unsettled, rounds, dockerView }: Run): boolean {
  const n = samples.length;
  const last = samples[n - 1]!;
  const atKeep = samples[KEEP - 1];
  const perImage = median(samples.slice(1).map((s) => s.newBytes));
  const withoutPruning = sum(samples.map((s) => s.newBytes));
  const problems: string[] = [];

  const later = samples.slice(1).map((s) => s.pushMs);
  console.log(
    `\nSummary: ${FIXTURE}, PIER_KEEP_RELEASES=${KEEP}, pace ${PACE}, ${n} deploys. Push (start to exit): first ${secs(samples[0]!.pushMs)} s, ` +
      `then median ${secs(median(later))} s (slowest ${secs(Math.max(...later))} s); a whole round (push, settle, measure) median ${secs(median(rounds))} s`,
  );
  const line = (label: string, value: string) => console.log(`  ${label.padEnd(44)} ${value}`);
  if (atKeep) {
    line(`app images after deploy ${KEEP} (= keep)`, `${atKeep.images} image(s), ${size(atKeep.appBytes)}`);
  } else {
    line(`app images after deploy ${KEEP} (= keep)`, `not reached (${n} deploys)`);
  }
  line(`app images after deploy ${n}`, `${last.images} image(s), ${size(last.appBytes)}`);
  if (atKeep && n > KEEP) {
    const growth = last.appBytes - atKeep.appBytes;
    line(`growth from deploy ${KEEP} to ${n}`, `${signedSize(growth)} (${signedSize(growth / (n - KEEP))} per deploy; one image's layers: ${size(perImage)})`);
    if (Math.abs(growth) > perImage / 2) problems.push(`the app's images grew by ${size(growth)} between deploy ${KEEP} and ${n}`);
  }
  const expectLeft = Math.min(KEEP, n);
  line('images left once old instances stopped', `${settled.images} (PIER_KEEP_RELEASES=${KEEP})`);
  if (unsettled > 0) problems.push(`${unsettled} time(s) the old instance was not gone ${SETTLE_MS / 1000} s after a push`);
  if (settled.images !== expectLeft) problems.push(`${settled.images} images are left, not ${expectLeft}`);
  line('  their layers / containers of the app', `${size(settled.appBytes)} / ${settled.containers}`);
  if (settled.containers !== 1) problems.push(`${settled.containers} containers of the app are left, not 1`);
  const maxDangling = Math.max(...samples.map((s) => s.dangling));
  line('dangling images of the instance', `at most ${maxDangling} after a deploy, ${settled.dangling} at the end (${size(settled.danglingBytes)})`);
  if (settled.dangling > 0) problems.push(`${settled.dangling} dangling images of the instance are left`);
  if (atKeep) line('build cache volume', `${size(atKeep.cacheBytes)} after deploy ${KEEP}, ${size(last.cacheBytes)} after deploy ${n} (${signedSize(last.cacheBytes - atKeep.cacheBytes)})`);
  line(
    'free space where Docker keeps its data',
    `${size(start.freeBytes)} before, ${atKeep ? `${signedSize(atKeep.freeBytes - start.freeBytes)} after deploy ${KEEP}, ` : ''}` +
      `${signedSize(last.freeBytes - start.freeBytes)} after deploy ${n}, ${signedSize(settled.freeBytes - start.freeBytes)} at the end`,
  );
  if (atKeep) line(`  between deploy ${KEEP} and ${n}`, `${signedSize(last.freeBytes - atKeep.freeBytes)} (the whole machine: other work on it counts too)`);
  const detailed = samples.filter((s) => s.redis);
  const firstRedis = detailed.find((s) => s.deploy >= KEEP) ?? detailed[0];
  if (firstRedis?.redis && settled.redis && n > firstRedis.deploy) {
    const grew = settled.redis.bytes - firstRedis.redis.bytes;
    line(
      "Redis: the instance's keys",
      `${firstRedis.redis.keys} keys, ${size(firstRedis.redis.bytes)} after deploy ${firstRedis.deploy}; ` +
        `${settled.redis.keys} keys, ${size(settled.redis.bytes)} after deploy ${n} (${signedSize(grew / (n - firstRedis.deploy))} per deploy: build records and logs are kept)`,
    );
  }
  if (settled.homeBytes !== undefined) line('PIER_HOME at the end', size(settled.homeBytes));
  if (dockerView) {
    line("Docker's own count of the images left", `${size(dockerView.unique)} unique (Size − SharedSize), ${size(dockerView.virtual)} with the stack counted in each`);
    console.log('  (Docker counts file bytes and leaves out layers that images share; the layer folders above count allocated blocks, shared layers once)');
  }
  console.log(
    `\nWithout pruning these ${n} deploys' images would take ${size(withoutPruning)} (the sum of each image's own layers; ` +
      `median ${size(perImage)} an image), ${(withoutPruning / settled.appBytes).toFixed(1)}× more than the ${size(settled.appBytes)} kept.`,
  );
  for (const p of problems) console.log(` !     Not flat: ${p}.`);
  if (problems.length === 0) console.log('Disk use stayed flat: images left = keep, no dangling images left, no growth beyond noise.');
  return problems.length === 0;
}

// ---- main --------------------------------------------------------------------------------------

/** Deploying time left: the final settling and Docker's count are kept out of it. */
const deployingLeft = () => budget.left() - SETTLE_MS - DOCKER_DF_MS;

/** Time for the next push: its cap, or what remains of the budget; undefined when it would not fit. */
function nextPushTimeout(capMs: number, slowestMs: number): number | undefined {
  if (abort.signal.aborted) throw abort.signal.reason as Error;
  const left = deployingLeft();
  if (left < Math.max(1.5 * slowestMs, 5000)) return undefined;
  return Math.min(capMs, left);
}

async function main(): Promise<void> {
  const docker = new Docker();
  let pier: TestPier | undefined;
  let repo: string | undefined;
  let failed = false;
  try {
    checkKnobs();
    pier = await TestPier.start({ env: { PIER_KEEP_RELEASES: String(KEEP) } });
    const { instance } = pier.settings;
    budget.instance = instance;
    const meter = await DiskMeter.create(docker, pier);
    console.log(
      `Disk bench: Pier instance ${instance}, fixture ${FIXTURE}, up to ${DEPLOYS} deploys in ${BUDGET_MS / 1000} s, keep ${KEEP}; ` +
        `node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}, Docker data in ${meter.dockerRoot}`,
    );
    repo = await pier.fixtureRepo(FIXTURE);
    const start = await meter.sample(0, { ms: 0, pruned: 0 }, true);
    printHeader();
    printRow(start, start);

    const samples: Sample[] = [];
    /** Whole rounds (change, push, check, settle, measure) after the first, to see whether one more fits. */
    const rounds: number[] = [];
    let unsettled = 0;
    for (let deploy = 1; deploy <= DEPLOYS; deploy++) {
      const roundStart = performance.now();
      const timeoutMs = nextPushTimeout(deploy === 1 ? FIRST_PUSH_CAP_MS : PUSH_CAP_MS, Math.max(0, ...rounds));
      if (timeoutMs === undefined) {
        console.log(`(the budget of ${BUDGET_MS / 1000} s ran out: stopping after ${deploy - 1} of ${DEPLOYS} deploys)`);
        break;
      }
      if (deploy > 1) await changeOneLine(repo, deploy);
      const pushed = await push(pier, repo, deploy, timeoutMs);
      const answer = await pier.get(APP).catch((err: Error) => ({ status: 0, body: err.message }));
      if (answer.status !== 200) throw new Error(`after push ${deploy} the app answered ${answer.status} through the router: ${answer.body.slice(0, 200)}`);
      if (PACE === 'settled' && !(await settle(docker, meter, instance, Math.min(SETTLE_MS, Math.max(0, deployingLeft()))))) unsettled++;
      const row = deploy === 1 || deploy === KEEP || deploy % ROW_EVERY === 0;
      const sample = await meter.sample(deploy, pushed, row);
      samples.push(sample);
      if (row) printRow(sample, start);
      if (deploy > 1) rounds.push(performance.now() - roundStart);
    }
    if (samples.length === 0) throw new BenchAbort(`the budget of ${BUDGET_MS / 1000} s left no time for a deploy`);

    if (!(await settle(docker, meter, instance, SETTLE_MS))) unsettled++;
    const last = samples[samples.length - 1]!;
    const settled = await meter.sample(last.deploy, { ms: last.pushMs, pruned: last.pruned }, true);
    console.log('(settled: old instances stopped, second pruning pass done)');
    printRow(settled, start);
    const dockerView = await Promise.race([meter.dockerView(), budget.sleep(DOCKER_DF_MS).then(() => undefined)]).catch(() => undefined);
    if (!report({ samples, start, settled, unsettled, rounds, dockerView })) process.exitCode = 1;
  } catch (err) {
    failed = true;
    console.error(`\nDisk bench ${err instanceof BenchAbort ? 'aborted' : 'failed'}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    if (pier && !(await budget.closePier(docker, pier, failed))) {
      // The fixture repository goes with a normal close only.
      if (repo) await rm(repo, { recursive: true, force: true }).catch(() => undefined);
      process.exitCode = 1;
    }
  }
  console.log(`\n(bench took ${secs(performance.now() - t0)} s including start-up and clean-up)`);
  // A forced clean-up may leave the daemon holding handles; leave rather than hang.
  process.exit(process.exitCode ?? 0);
}

await main();
