/**
 * Deploy speed: how long `git push` (cold and warm) and `pier config:set` take end to end, against
 * the floor any deploy pays, measured in the same run: `docker create` + `docker start` of the
 * current release's image on Pier's network until the container first answers HTTP.
 *
 *   npx tsx bench/deploy/run.ts
 *
 * Starts a whole Pier daemon in-process under its own instance name (TestPier), so it never touches
 * an installed Pier or other test runs; everything it creates is removed at the end. Needs Docker,
 * git, the stack image and a Redis with AOF (PIER_TEST_REDIS_URL, default redis://127.0.0.1:6379).
 *
 * Order: one cold push (empty build cache, Node download), then BENCH_REPEATS interleaved rounds of
 * {warm redeploy push, config:set, bare container start}, so a slow spell of a shared machine hits
 * every measure alike. Medians are reported. The whole bench is bounded (BENCH_BUDGET_S, default
 * 200 s of measuring, then at most 30 s of clean-up) and aborts with a message when over budget.
 * A push that git accepts but Pier never builds is reported as a warning, left out of the figures
 * and retried with a new commit.
 */
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { containerAddress } from '../../src/scheduler/docker-network.js';
import { hardenedHostConfig } from '../../src/scheduler/docker-security.js';
import { TestPier, commitAll, removeInstance, repoRoot } from '../../test/helpers/test-pier.js';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const BUDGET_MS = Number(process.env.BENCH_BUDGET_S ?? 200) * 1000;
const CLEANUP_MS = 30_000;
const APP = 'bench-node';
const PORT = 5000;
const WEB_COMMAND = 'npm start';

const t0 = performance.now();
const deadline = t0 + BUDGET_MS;
const abort = new AbortController();

class BenchAbort extends Error {}

/** Last resort: if measuring and clean-up together overrun, say so and leave. */
const watchdog = setTimeout(() => {
  console.error(`\nDeploy bench: still running after ${((BUDGET_MS + CLEANUP_MS + 5000) / 1000).toFixed(0)} s; exiting without finishing clean-up.`);
  process.exit(2);
}, BUDGET_MS + CLEANUP_MS + 5000);
watchdog.unref();

// A closed stdout (say, piped into head) must not kill the run before it has cleaned up.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
process.once('SIGINT', () => abort.abort(new BenchAbort('interrupted (SIGINT)')));
process.once('SIGTERM', () => abort.abort(new BenchAbort('terminated (SIGTERM)')));

/** Time left for a step: its own cap, or what remains of the whole budget, whichever is smaller. */
function stepTimeout(step: string, capMs: number): number {
  if (abort.signal.aborted) throw abort.signal.reason as Error;
  const left = deadline - performance.now();
  if (left <= 1000) throw new BenchAbort(`out of time before ${step}: the bench is bounded to ${BUDGET_MS / 1000} s of measuring`);
  return Math.min(capMs, left);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? 'n/a' : (ms / 1000).toFixed(2));
function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

interface Timed {
  code: number;
  ms: number;
  output: string;
  /** Milliseconds from spawn to the first output line matching each mark. */
  marks: Record<string, number | undefined>;
  /** Build-log step lines ("-----> ...", "=====> ...", the deploy's progress) with their arrival time. */
  steps: Array<{ at: number; line: string }>;
}

/**
 * Runs a command, timestamping output lines as they arrive (stdout and stderr alike) so phases can
 * be read off the streamed build log. Kills the child (by its own handle) on timeout or abort.
 */
function timedRun(
  step: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; capMs: number; marks?: Record<string, RegExp> },
): Promise<Timed> {
  const timeoutMs = stepTimeout(step, opts.capMs);
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const marks: Record<string, number | undefined> = {};
    const steps: Timed['steps'] = [];
    let output = '';
    let failure: Error | undefined;
    const pending = { out: '', err: '' };
    const scan = (line: string, at: number) => {
      const step = /^(?:remote: )?((?:----->|=====>) .*?|\s+(?:Releasing v|Starting web|web\.\d+ answers|Stopping \d).*?)\s*$/.exec(line);
      if (step) steps.push({ at, line: step[1]!.replace(/^\s+/, '  ') });
      for (const [name, re] of Object.entries(opts.marks ?? {})) if (marks[name] === undefined && re.test(line)) marks[name] = at;
    };
    const onData = (which: 'out' | 'err') => (d: Buffer) => {
      const at = performance.now() - start;
      const text = d.toString();
      output += text;
      const lines = (pending[which] + text).split(/\r?\n|\r/);
      pending[which] = lines.pop() ?? '';
      for (const line of lines) scan(line, at);
    };
    child.stdout.on('data', onData('out'));
    child.stderr.on('data', onData('err'));
    const stop = (err: Error) => {
      failure ??= err;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => stop(new BenchAbort(`${step} did not finish within ${(timeoutMs / 1000).toFixed(0)} s (the bench is bounded to ${BUDGET_MS / 1000} s of measuring)`)),
      timeoutMs,
    );
    const onAbort = () => stop(abort.signal.reason as Error);
    abort.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => (failure ??= err));
    child.on('close', (code) => {
      const ms = performance.now() - start;
      clearTimeout(timer);
      abort.signal.removeEventListener('abort', onAbort);
      scan(pending.out, ms);
      scan(pending.err, ms);
      if (failure) return reject(failure);
      resolve({ code: code ?? -1, ms, output, marks, steps });
    });
  });
}

function mustSucceed(step: string, r: Timed): Timed {
  if (r.code !== 0) throw new Error(`${step} failed (exit ${r.code}):\n${r.output.trim().split('\n').slice(-25).join('\n')}`);
  return r;
}

const pushMarks = {
  building: /-----> Building /,
  deploying: /-----> Deploying/,
  answers: /switching traffic/,
  deployed: /=====> Application deployed in/,
};
const configMarks = { starting: /Starting web\.1/, answers: /switching traffic/ };

function push(pier: TestPier, repo: string, step: string, capMs: number): Promise<Timed> {
  return timedRun(step, 'git', ['push', '--force', pier.gitUrl(APP), 'HEAD:main'], {
    cwd: repo,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
    capMs,
    marks: pushMarks,
  }).then((r) => mustSucceed(step, r));
}

/** Pushes accepted by git (exit 0) that Pier never built or deployed; reported, never timed. */
const silentPushes: string[] = [];
const MAX_PUSH_ATTEMPTS = 3;

/**
 * A timed push that must build and deploy. Exit 0 alone is not proof: a push whose output shows no
 * build and no deploy is recorded as an anomaly, left out of the figures, and retried with a fresh
 * commit (re-pushing the same commit would be "Everything up-to-date").
 */
async function deployPush(pier: TestPier, repo: string, step: string, capMs: number, commit: (attempt: number) => Promise<void>): Promise<Timed> {
  for (let attempt = 1; ; attempt++) {
    await commit(attempt);
    const r = await push(pier, repo, attempt === 1 ? step : `${step} (attempt ${attempt})`, capMs);
    if (r.marks.deploying !== undefined && r.marks.deployed !== undefined) return r;
    const remote = r.output.split('\n').filter((l) => l.startsWith('remote:')).length;
    silentPushes.push(`${step}: git push exited 0 after ${secs(r.ms)} s with ${remote} remote line(s) and no build`);
    console.log(`\n  WARNING: ${step} exited 0 in ${secs(r.ms)} s but Pier neither built nor deployed it; not timed, retrying with a new commit`);
    if (attempt >= MAX_PUSH_ATTEMPTS) {
      throw new Error(`${step}: ${attempt} pushes in a row were accepted without a build; last output:\n${r.output.trim()}`);
    }
  }
}

/** A code-only change: a comment, so dependencies (and the cached node_modules) stay as they are. */
async function commentCommit(repo: string, original: string, label: string): Promise<void> {
  await writeFile(path.join(repo, 'server.js'), `${original}// bench ${label} ${Date.now()}\n`);
  await commitAll(repo, `bench ${label}`);
}

/** The real CLI from sources, as TestPier.cli runs it, but timed and bounded. */
function cli(pier: TestPier, args: string[], step: string, capMs: number, marks?: Record<string, RegExp>): Promise<Timed> {
  return timedRun(step, process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    env: { ...process.env, PIER_URL: pier.apiUrl, PIER_TOKEN: pier.token, PIER_ENV_FILE: '/nonexistent' },
    capMs,
    marks,
  }).then((r) => mustSucceed(step, r));
}

/** One GET with no keep-alive; resolves with the status, or undefined when nothing answered. */
function probe(host: string, port: number, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * The floor: create and start a container of the release image on Pier's network, as the scheduler
 * does (same user, PORT, hardened host config, entrypoint pier-launch running the web command), and
 * poll its IP every 10 ms until it answers 200. Timed from before `docker create`; removed afterwards.
 */
async function bareStart(docker: Docker, image: string, network: string, instance: string, round: number): Promise<number> {
  const timeoutMs = stepTimeout(`bare container start ${round}`, 30_000);
  const started = performance.now();
  const container = await docker.createContainer({
    name: `${instance}-bench-bare-${round}-${Date.now().toString(36)}`,
    Image: image,
    Cmd: [WEB_COMMAND],
    User: '1000:1000',
    Env: [`PORT=${PORT}`],
    // pier.instance lets TestPier's clean-up find it should this process die; no pier.app, so the
    // scheduler never mistakes it for one of the app's instances.
    Labels: { 'pier.instance': instance, 'pier.role': 'bench' },
    HostConfig: hardenedHostConfig({ NetworkMode: network }),
  });
  try {
    await container.start();
    const ip = containerAddress(await container.inspect(), network);
    if (!ip) throw new Error(`the bare container got no address on network ${network}`);
    for (;;) {
      const status = await probe(ip, PORT, 1000);
      if (status === 200) return performance.now() - started;
      if (abort.signal.aborted) throw abort.signal.reason as Error;
      if (performance.now() - started > timeoutMs) {
        const { State } = await container.inspect();
        throw new BenchAbort(
          `the bare container did not answer 200 on ${ip}:${PORT} within ${(timeoutMs / 1000).toFixed(0)} s (last status: ${status ?? 'no answer'}, running: ${State.Running})`,
        );
      }
      await sleep(10);
    }
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Checks through Pier's router that the app serves what we expect (not timed). */
async function assertServes(pier: TestPier, expected: string): Promise<void> {
  const page = await pier.get(APP);
  if (page.status !== 200 || !page.body.includes(expected)) {
    throw new Error(`after the deploy the app answered ${page.status} ${JSON.stringify(page.body.slice(0, 200))}, expected "${expected}"`);
  }
}

interface Phases {
  /** push start → "-----> Building" (hook, git archive, queueing) */
  toBuild?: number;
  /** "-----> Building" → "-----> Deploying" (the buildpack build and image commit) */
  build?: number;
  /** "-----> Deploying" → "switching traffic" (release, container start, health check) */
  start?: number;
  /** "switching traffic" → push exit (drain, stopping the old instance, git's own wrap-up) */
  retire?: number;
}

function pushPhases(r: Timed): Phases {
  const m = r.marks;
  const diff = (a?: number, b?: number) => (a !== undefined && b !== undefined ? b - a : undefined);
  return { toBuild: m.building, build: diff(m.building, m.deploying), start: diff(m.deploying, m.answers), retire: diff(m.answers, r.ms) };
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

async function main(): Promise<void> {
  const docker = new Docker();
  let pier: TestPier | undefined;
  let repo: string | undefined;
  let failed: unknown;
  let clean = true;
  try {
    stepTimeout('starting Pier', 30_000);
    pier = await TestPier.start();
    const { instance } = pier.settings;
    console.log(`Deploy bench: Pier instance ${instance}, ${REPEATS} rounds; node ${process.version}, ${os.cpus().length} CPUs, ${os.loadavg()[0]!.toFixed(2)} load`);
    repo = await pier.fixtureRepo('node-app');
    await cli(pier, ['apps:create', APP], 'apps:create', 30_000);

    const original = await readFile(path.join(repo, 'server.js'), 'utf8');
    process.stdout.write('cold push ... ');
    // The fixture's own commit first; a retry (see deployPush) is still cold, as nothing was built.
    const cold = await deployPush(pier, repo, 'the cold push', 150_000, async (attempt) => {
      if (attempt > 1) await commentCommit(repo!, original, `cold retry ${attempt}`);
    });
    console.log(`${secs(cold.ms)} s`);
    await assertServes(pier, 'hello from pier-fixture-node-app');

    const warm: Timed[] = [];
    const config: Timed[] = [];
    const bare: number[] = [];
    const infoCalls: number[] = [];
    for (let round = 1; round <= REPEATS; round++) {
      const w = await deployPush(pier, repo, `warm push ${round}`, 90_000, (attempt) => commentCommit(repo!, original, `redeploy ${round}.${attempt}`));
      warm.push(w);
      await assertServes(pier, 'from pier-fixture-node-app');

      const c = await cli(pier, ['config:set', APP, `GREETING=bench${round}`], `config:set ${round}`, 60_000, configMarks);
      config.push(c);
      await assertServes(pier, `bench${round} from pier-fixture-node-app`);

      const info = await cli(pier, ['apps:info', APP, '--json'], 'apps:info', 30_000);
      infoCalls.push(info.ms);
      const image = (JSON.parse(info.output) as { image: string | null }).image;
      if (!image) throw new Error('apps:info --json shows no image for the deployed app');
      const b = await bareStart(docker, image, instance, instance, round);
      bare.push(b);
      console.log(`round ${round}: warm push ${secs(w.ms)} s, config:set ${secs(c.ms)} s, bare start ${secs(b)} s`);
    }

    const warmMs = median(warm.map((r) => r.ms));
    const configMs = median(config.map((r) => r.ms));
    const bareMs = median(bare);
    const runs = (v: number[]) => v.map((x) => secs(x)).join(' / ');

    console.log('');
    const w1 = [36, 9, 24];
    console.log(row(['measure', 's', 'runs'], w1));
    console.log(row(['cold push (empty cache)', secs(cold.ms), ''], w1));
    console.log(row(['warm redeploy push (median)', secs(warmMs), runs(warm.map((r) => r.ms))], w1));
    console.log(row(['config:set via CLI (median)', secs(configMs), runs(config.map((r) => r.ms))], w1));
    console.log(row(['bare container start-to-answer (med)', secs(bareMs), runs(bare)], w1));
    console.log(row(['(CLI round trip, apps:info, median)', secs(median(infoCalls)), runs(infoCalls)], w1));
    console.log('');
    console.log(`warm/bare    ${(warmMs / bareMs).toFixed(1)}x`);
    console.log(`config/bare  ${(configMs / bareMs).toFixed(1)}x`);

    // Where the time goes, read off the streamed log (line arrival times at the pusher).
    const phaseNames: Array<[keyof Phases, string]> = [
      ['toBuild', 'push → "Building" (hook, archive, queue)'],
      ['build', '"Building" → "Deploying" (buildpack)'],
      ['start', '"Deploying" → new instance answers'],
      ['retire', 'answers → push exits (drain, stop old)'],
    ];
    const coldPhases = pushPhases(cold);
    const warmPhases = warm.map(pushPhases);
    console.log('');
    const w2 = [44, 8, 12];
    console.log(row(['push phase', 'cold s', 'warm med s'], w2));
    for (const [key, label] of phaseNames) {
      console.log(row([label, secs(coldPhases[key]), secs(median(warmPhases.map((p) => p[key] ?? NaN)))], w2));
    }
    console.log(row(['total', secs(cold.ms), secs(warmMs)], w2));
    const reported = (r: Timed) => Number(/Application deployed in ([\d.]+)s/.exec(r.output)?.[1] ?? NaN) * 1000;
    console.log(row(['(Pier\'s own "deployed in")', secs(reported(cold)), secs(median(warm.map(reported)))], w2));

    // The build log's own steps, each with the time until the next step line (or the push's exit).
    const timeline = (title: string, r: Timed) => {
      console.log(`\n${title} (s until the next step)`);
      r.steps.forEach((s, i) => {
        const next = r.steps[i + 1]?.at ?? r.ms;
        console.log(`  ${secs(s.at).padStart(6)}  +${secs(next - s.at).padStart(5)}  ${s.line.slice(0, 90)}`);
      });
    };
    timeline('cold push, step by step', cold);
    const medianWarm = [...warm].sort((a, b) => a.ms - b.ms)[Math.floor(warm.length / 2)]!;
    timeline('median warm push, step by step', medianWarm);

    const cfg = (r: Timed, from: 'start' | 'starting' | 'answers', to: 'starting' | 'answers' | 'end') => {
      const at = (k: string) => (k === 'start' ? 0 : k === 'end' ? r.ms : r.marks[k]);
      const a = at(from);
      const b = at(to);
      return a !== undefined && b !== undefined ? b - a : NaN;
    };
    console.log('');
    console.log(row(['config:set phase', '', 'median s'], w2));
    console.log(row(['CLI start → "Starting web.1"', '', secs(median(config.map((r) => cfg(r, 'start', 'starting'))))], w2));
    console.log(row(['"Starting web.1" → new instance answers', '', secs(median(config.map((r) => cfg(r, 'starting', 'answers'))))], w2));
    console.log(row(['answers → CLI exits (drain, stop old)', '', secs(median(config.map((r) => cfg(r, 'answers', 'end'))))], w2));

    if (silentPushes.length > 0) {
      console.log(`\nWARNING: ${silentPushes.length} push(es) were accepted by git (exit 0) but never built or deployed by Pier:`);
      for (const s of silentPushes) console.log(`  - ${s}`);
      console.log('  They are left out of the figures above. The app kept its previous release: a silent deploy failure.');
    }
  } catch (err) {
    failed = err;
  } finally {
    clean = await cleanUp(docker, pier, repo);
  }
  if (failed) {
    const aborted = failed instanceof BenchAbort;
    console.error(`\nDeploy bench ${aborted ? 'aborted' : 'failed'}: ${failed instanceof Error ? failed.message : String(failed)}`);
    process.exitCode = 1;
  }
  console.log(`\n(bench took ${((performance.now() - t0) / 1000).toFixed(1)} s including start-up and clean-up)`);
  // After a forced clean-up the daemon may still hold handles (a build it waits for): leave now.
  if (!clean) process.exit(1);
}

/**
 * Removes everything this run created, bounded in time. A build still running (after an abort)
 * would hold up the worker's close, so its build container is removed first to make it fail fast.
 */
async function cleanUp(docker: Docker, pier: TestPier | undefined, repo: string | undefined): Promise<boolean> {
  if (repo) await rm(repo, { recursive: true, force: true }).catch(() => undefined);
  if (!pier) return true;
  const { instance, home } = pier.settings;
  const work = (async () => {
    if (abort.signal.aborted || performance.now() > deadline) {
      const label = [`pier.instance=${instance}`, 'pier.role=build'];
      for (const c of await docker.listContainers({ all: true, filters: { label } }).catch(() => [])) {
        await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    await pier.close();
  })();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), CLEANUP_MS)));
  const outcome = await Promise.race([work.then(() => 'done' as const), timedOut]).catch((err: unknown) => err);
  clearTimeout(timer);
  if (outcome === 'done') return true;
  console.error(
    outcome === 'timeout'
      ? `Clean-up: the daemon did not close within ${CLEANUP_MS / 1000} s; removing instance ${instance} directly.`
      : `Clean-up: closing the daemon failed (${(outcome as Error).message}); removing instance ${instance} directly.`,
  );
  await removeInstance(instance).catch((err: unknown) => console.error(`Clean-up of ${instance} failed: ${(err as Error).message}`));
  await rm(home, { recursive: true, force: true }).catch(() => undefined);
  return false;
}

await main();
