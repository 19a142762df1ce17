/**
 * Zero-downtime redeploys: a steady load goes through Pier's router while the app is redeployed
 * BENCH_REDEPLOYS (5) times with `git push`, each push a one-line change; the bench counts what the
 * load saw. Goal: no failed request, and every body from the release serving before the push or
 * the one it deploys.
 *
 *   npx tsx bench/zero-downtime/run.ts
 *   BENCH_SCALES=2 BENCH_CONCURRENCY=16 npx tsx bench/zero-downtime/run.ts
 *
 * The app is test/fixtures/express-app: its body names its release ("version: <VERSION>", the line
 * of server.js each push rewrites) and its container ("instance: <hostname>"). The load
 * (bench/zero-downtime/load.ts, in its own process) is BENCH_CONCURRENCY (8) closed loops, each on
 * its own kept-alive connection to the router on loopback (Host `<app>.<domain>`), each pausing
 * BENCH_PAUSE_MS (5) ms between an answer and its next request, with a 5 s timeout per request.
 *
 * For every web count in BENCH_SCALES (1,2; `pier ps:scale APP web=N`, so web=2 exercises the
 * router's round-robin over two instances), two phases under the same load:
 *
 *   redeploys  a second of load, then the pushes back to back, then load on until the replaced
 *              instances have stopped and been removed (so their drain and stop happen under load),
 *              and one second more;
 *   steady     the reference: the same load for as long, against the same app with no deploy.
 *
 * Each phase prints: requests sent, req/s, non-2xx answers by status, transport errors by code,
 * the longest pause (the longest gap between two consecutive successful answers, all loops merged)
 * and the longest single request, p50/p99 latency, and the body check. A body is known when it is
 * the fixture's answer naming a version the bench pushed and a container of the release that
 * version became (container hostnames and release numbers are read from Docker and the pushes'
 * "Releasing vN" lines). A known body is outside its window when its release is neither one that
 * could still serve when the request started (the one the last finished push deployed) nor one
 * deployed by the time it ended. Failed requests, unknown bodies and bodies outside their window
 * are listed with their time against the push steps (the `remote:` lines as they reached the
 * pusher), next to the router's "upstream error" lines from the daemon's debug log. Redeploys are
 * compared with steady state: "longest pause X ms vs Y ms at steady state (Z×)", and req/s.
 *
 * Exits 1 when any request failed (non-2xx or transport error) or any body was unknown or outside
 * its window, so it doubles as a check; 0 otherwise.
 *
 * Starts a whole Pier daemon in-process under its own instance name (TestPier), so it never touches
 * an installed Pier or other test runs; it sends requests only to that daemon's router and API on
 * loopback, and removes everything it created at the end. Needs Docker, git, the stack image, the
 * npm registry and a Redis with AOF (PIER_TEST_REDIS_URL). Bounded: BENCH_BUDGET_S (480) seconds of
 * measuring (a phase that would not fit is not started), then at most 30 s of clean-up; a watchdog
 * exits should even that overrun.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import Docker from 'dockerode';
import { TestPier, repoRoot, run } from '../../test/helpers/test-pier.js';
import { BenchAbort, Budget } from '../lib/budget.js';
import { indent, killGroup } from '../lib/common.js';
import { fixtureVersion, versionCommit } from '../lib/express-fixture.js';
import type { LoadRecord, LoadResult } from './load.js';

const REDEPLOYS = Number(process.env.BENCH_REDEPLOYS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const PAUSE_MS = Number(process.env.BENCH_PAUSE_MS ?? 5);
const SCALES = (process.env.BENCH_SCALES ?? '1,2').split(',').map(Number);
const BUDGET_MS = Number(process.env.BENCH_BUDGET_S ?? 480) * 1000;
const APP = 'bench-zdt';
const FIXTURE = 'express-app';
/** Named bounds of each step, in ms. */
const LIMITS = {
  /** The first push downloads Node and the packages; later ones reuse the build cache. */
  firstPush: 180_000,
  push: 90_000,
  /** Replaced instances get 2 s of drain, then a SIGTERM the fixture obeys at once. */
  settle: 45_000,
  cleanUp: 30_000,
  /** No web count is started with less budget than this left: its redeploy phase alone is about 5 pushes. */
  phaseMin: 20_000,
};
/** Load before the first push and after the last replaced instance is gone, in ms. */
const LEAD_MS = 1000;
const TAIL_MS = 1000;
/** Findings and daemon log lines listed per phase. */
const LISTED = 15;

/** Epoch milliseconds with sub-millisecond resolution, the clock the load generator's records use too. */
const now = () => performance.timeOrigin + performance.now();
const t0 = now();
const budget = new Budget('Zero-downtime bench', BUDGET_MS, LIMITS.cleanUp);
const { abort, children } = budget;

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
const secs = (v: number) => (v / 1000).toFixed(1);
const times = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(1)}x` : 'n/a');

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function knob(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new BenchAbort(`${name} must be an integer of at least ${min} (got ${process.env[name]})`);
}

// ---- pushes ------------------------------------------------------------------------------------

interface Push {
  version: string;
  release: number;
  start: number;
  exit: number;
  output: string;
  /** The build log's step lines (`remote: -----> …`, `=====> …` and the deploy's progress), as they arrived. */
  steps: Array<{ at: number; line: string }>;
}

const STEP = /^remote: ((?:----->|=====>) .*|\s+(?:Releasing v|Starting |web\.[\d, web.]+accept|Traffic switched|Stopping ).*?)\s*$/;

/**
 * `git push` of HEAD to main, its output lines timestamped as they arrive. The child leads its own
 * process group, killed on timeout or abort (killing git alone would leave git-remote-http holding
 * the pipes). Fails unless the push exits 0 having built, released and deployed.
 */
async function push(pier: TestPier, repo: string, version: string, capMs: number): Promise<Push> {
  const step = `the push of version ${version}`;
  const limit = budget.timeFor(step, capMs);
  const start = now();
  const child = spawn('git', ['push', '--force', pier.gitUrl(APP), 'HEAD:main'], {
    cwd: repo,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pgid = child.pid!;
  children.add(pgid);
  const steps: Push['steps'] = [];
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      output += `${line}\n`;
      const m = STEP.exec(line);
      if (m) steps.push({ at: now(), line: m[1]!.trim() });
    });
  }
  let stopped: Error | undefined;
  const stop = (err: Error) => {
    stopped ??= err;
    killGroup(pgid);
  };
  const timer = setTimeout(() => stop(new BenchAbort(`${step} did not finish within ${secs(limit)} s`)), limit);
  const onAbort = () => stop(abort.signal.reason as Error);
  abort.signal.addEventListener('abort', onAbort, { once: true });
  const code = await new Promise<number>((resolve) => {
    child.on('error', (err) => (stop(err), resolve(-1)));
    child.on('close', (c) => resolve(c ?? -1));
  });
  const exit = now();
  clearTimeout(timer);
  abort.signal.removeEventListener('abort', onAbort);
  children.delete(pgid);
  if (stopped) throw Object.assign(stopped, { message: `${stopped.message}. Its output:\n${indent(output)}` });
  const release = Number(/Releasing v(\d+)/.exec(output)?.[1]);
  if (code !== 0 || !Number.isInteger(release) || !/Application deployed in/.test(output)) {
    throw new Error(`${step} ${code === 0 ? 'exited 0 without deploying' : `failed (exit ${code})`} after ${secs(exit - start)} s. Its output:\n${indent(output)}`);
  }
  return { version, release, start, exit, output, steps };
}

// ---- what Docker and the CLI say -------------------------------------------------------------------

async function appContainers(docker: Docker, instance: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`pier.instance=${instance}`, `pier.app=${APP}`, 'pier.role=app'] } });
}

/** Container hostname (Docker's default: the id's first 12 characters) → release number. */
async function recordInstances(docker: Docker, instance: string, into: Map<string, number>): Promise<void> {
  for (const c of await appContainers(docker, instance)) into.set(c.Id.slice(0, 12), Number(c.Labels['pier.release']));
}

/** Waits until exactly `web` instances run, all of one release: the replaced ones have stopped and gone. */
async function settle(docker: Docker, instance: string, web: number): Promise<void> {
  const limit = budget.timeFor('waiting for the replaced instances to stop', LIMITS.settle);
  const until = now() + limit;
  let seen: Docker.ContainerInfo[] = [];
  while (now() < until && !abort.signal.aborted) {
    seen = await appContainers(docker, instance);
    const releases = new Set(seen.map((c) => c.Labels['pier.release']));
    if (seen.length === web && releases.size === 1 && seen.every((c) => c.State === 'running')) return;
    await budget.sleep(200);
  }
  if (abort.signal.aborted) throw abort.signal.reason as Error;
  const list = seen.map((c) => `${c.Labels['pier.process']}.${c.Labels['pier.index']} v${c.Labels['pier.release']} ${c.State}`).join(', ');
  throw new BenchAbort(`${APP} did not settle to web=${web} of one release within ${secs(limit)} s (containers: ${list || 'none'})`);
}

async function cli(pier: TestPier, args: string[]): Promise<string> {
  const r = await run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    env: { ...process.env, PIER_URL: pier.apiUrl, PIER_TOKEN: pier.token, PIER_ENV_FILE: '/nonexistent' },
    timeoutMs: budget.timeFor(`pier ${args[0]}`, 60_000),
  });
  if (r.code !== 0) throw new Error(`pier ${args.join(' ')} failed (exit ${r.code}):\n${indent(r.stdout + r.stderr)}`);
  return r.stdout;
}

// ---- the load ----------------------------------------------------------------------------------

class Load {
  private constructor(private readonly child: ChildProcess, private readonly result: Promise<LoadResult>) {}

  static async start(pier: TestPier, maxMs: number): Promise<Load> {
    const script = path.join(repoRoot, 'bench/zero-downtime/load.ts');
    const args = [String(pier.settings.httpPort), `${APP}.${pier.settings.domain}`, String(CONCURRENCY), String(PAUSE_MS), String(Math.ceil(maxMs / 1000))];
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    children.add(child.pid!);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const ready = new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('ready\n')) resolve();
      });
      child.on('close', (code) => reject(new Error(`the load generator exited (${code}) before it started:\n${indent(err)}`)));
    });
    const result = new Promise<LoadResult>((resolve, reject) => {
      child.on('close', (code) => {
        children.delete(child.pid!);
        if (code === 0) resolve(JSON.parse(out) as LoadResult);
        else reject(new Error(`the load generator failed (exit ${code}):\n${indent(err)}`));
      });
    });
    result.catch(() => undefined);
    const timer = setTimeout(() => killGroup(child.pid!), 20_000);
    await ready.finally(() => clearTimeout(timer));
    return new Load(child, result);
  }

  /** Ends the loops (each finishes its request in flight, 5 s at most) and collects the requests. */
  async stop(): Promise<LoadResult> {
    this.child.stdin!.end('stop\n');
    const timer = setTimeout(() => killGroup(this.child.pid!), 15_000);
    try {
      return await this.result;
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---- phases ------------------------------------------------------------------------------------

interface Phase {
  name: 'redeploys' | 'steady';
  web: number;
  start: number;
  end: number;
  /** Index into `Run.versions` of the version serving when the phase started. */
  base: number;
  pushes: Push[];
  load: LoadResult;
  /** The router's upstream errors and the daemon's warnings during the phase, from its debug log. */
  daemonLog: Array<{ at: number; line: string }>;
}

interface Run {
  pier: TestPier;
  docker: Docker;
  repo: string;
  logFile: string;
  /** Versions in the order they were deployed, and the release each became. */
  versions: string[];
  releaseOf: Map<string, number>;
  /** Container hostname → release number. */
  instances: Map<string, number>;
}

async function daemonLog(logFile: string, start: number, end: number): Promise<Phase['daemonLog']> {
  const out: Phase['daemonLog'] = [];
  for (const text of (await readFile(logFile, 'utf8').catch(() => '')).split('\n')) {
    if (!text) continue;
    let entry: { time: number; level: number; msg: string; err?: unknown };
    try {
      entry = JSON.parse(text) as typeof entry;
    } catch {
      continue;
    }
    if (entry.time < start || entry.time > end) continue;
    if (entry.msg === 'upstream error' || entry.level >= 40) {
      const err = typeof entry.err === 'string' ? entry.err : JSON.stringify(entry.err ?? '');
      out.push({ at: entry.time, line: `${entry.level >= 40 ? 'warn' : 'debug'} ${entry.msg}${entry.err ? `: ${err}` : ''}` });
    }
  }
  return out;
}

async function redeployPhase(r: Run, web: number): Promise<Phase> {
  const { pier, docker } = r;
  const { instance } = pier.settings;
  const base = r.versions.length - 1;
  const load = await Load.start(pier, budget.left());
  const start = now();
  const pushes: Push[] = [];
  try {
    await budget.sleep(LEAD_MS);
    for (let k = 1; k <= REDEPLOYS; k++) {
      const version = `web${web}-push${k}-${Date.now().toString(36)}`;
      await versionCommit(r.repo, version);
      const p = await push(pier, r.repo, version, LIMITS.push);
      pushes.push(p);
      r.versions.push(version);
      r.releaseOf.set(version, p.release);
      await recordInstances(docker, instance, r.instances);
      process.stdout.write(`${k === 1 ? `  web=${web} pushes (s): ` : ', '}${secs(p.exit - p.start)}`);
    }
    console.log('');
    await settle(docker, instance, web);
    await budget.sleep(TAIL_MS);
  } catch (err) {
    await load.stop().catch(() => undefined);
    throw err;
  }
  const end = now();
  const result = await load.stop();
  return { name: 'redeploys', web, start, end, base, pushes, load: result, daemonLog: await daemonLog(r.logFile, start, end) };
}

async function steadyPhase(r: Run, web: number, durationMs: number): Promise<Phase> {
  const length = Math.min(durationMs, budget.left() - 1000);
  if (length < durationMs / 2) throw new BenchAbort(`out of time for the steady phase of web=${web} (${secs(durationMs)} s needed)`);
  const load = await Load.start(r.pier, length + 10_000);
  const start = now();
  await budget.sleep(length);
  const end = now();
  const result = await load.stop();
  return { name: 'steady', web, start, end, base: r.versions.length - 1, pushes: [], load: result, daemonLog: await daemonLog(r.logFile, start, end) };
}

// ---- figures -----------------------------------------------------------------------------------

const BODY = /^hello from pier-fixture-express-app\nversion: (.*)\ninstance: ([0-9a-f]{12})\nnode v[\d.]+\n$/;

interface Finding {
  at: number;
  what: string;
}

interface Figures {
  requests: number;
  seconds: number;
  rps: number;
  statuses: Map<number, number>;
  errors: Map<string, number>;
  unknown: number;
  outside: number;
  pause: { ms: number; at: number };
  slowest: { ms: number; at: number };
  p50: number;
  p99: number;
  /** version → instance → answers. */
  served: Map<string, Map<string, number>>;
  findings: Finding[];
}

const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

/** The longest gap between consecutive successful answers (sorted end times) among the gaps ending within [from, to). */
function longestPause(ends: number[], from = -Infinity, to = Infinity): { ms: number; at: number } {
  let best = { ms: 0, at: NaN };
  for (let i = 1; i < ends.length; i++) {
    const gap = ends[i]! - ends[i - 1]!;
    if (ends[i]! >= from && ends[i]! < to && gap > best.ms) best = { ms: gap, at: ends[i - 1]! };
  }
  return best;
}

function figures(r: Run, phase: Phase): Figures {
  const { bodies, requests } = phase.load;
  const f: Figures = {
    requests: requests.length,
    seconds: (phase.end - phase.start) / 1000,
    rps: requests.length / ((phase.end - phase.start) / 1000),
    statuses: new Map(),
    errors: new Map(),
    unknown: 0,
    outside: 0,
    pause: { ms: 0, at: NaN },
    slowest: { ms: 0, at: NaN },
    p50: NaN,
    p99: NaN,
    served: new Map(),
    findings: [],
  };
  // The release that may still serve at t (the last push that finished by t), and the newest that may (the last one started).
  const oldest = (t: number) => phase.base + phase.pushes.filter((p) => p.exit <= t).length;
  const newest = (t: number) => phase.base + phase.pushes.filter((p) => p.start <= t).length;
  const ends: number[] = [];
  const latencies: number[] = [];
  for (const [start, end, status, bodyIndex, error] of requests as LoadRecord[]) {
    const latency = end - start;
    latencies.push(latency);
    if (latency > f.slowest.ms) f.slowest = { ms: latency, at: start };
    if (error) {
      bump(f.errors, error);
      f.findings.push({ at: start, what: `${error} after ${ms(latency)} ms${status ? ` (status ${status} had arrived)` : ''}` });
      continue;
    }
    const body = bodies[bodyIndex] ?? '';
    if (status < 200 || status > 299) {
      bump(f.statuses, status);
      f.findings.push({ at: start, what: `${status} after ${ms(latency)} ms: ${JSON.stringify(body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 80))}` });
      continue;
    }
    ends.push(end);
    const m = BODY.exec(body);
    const version = m?.[1];
    const host = m?.[2];
    const release = version === undefined ? undefined : r.releaseOf.get(version);
    if (version === undefined || host === undefined || release === undefined || r.instances.get(host) !== release) {
      f.unknown++;
      f.findings.push({ at: start, what: `unknown body ${JSON.stringify(body.slice(0, 120))}` });
      continue;
    }
    const perInstance = f.served.get(version) ?? new Map<string, number>();
    f.served.set(version, bump(perInstance, host));
    const index = r.versions.indexOf(version);
    if (index < oldest(start) || index > newest(end)) {
      f.outside++;
      f.findings.push({
        at: start,
        what: `body of v${release} (${version}) outside its window: may serve v${r.releaseOf.get(r.versions[oldest(start)]!)}..v${r.releaseOf.get(r.versions[newest(end)]!)}`,
      });
    }
  }
  ends.sort((a, b) => a - b);
  latencies.sort((a, b) => a - b);
  f.pause = longestPause(ends);
  f.p50 = percentile(latencies, 0.5);
  f.p99 = percentile(latencies, 0.99);
  f.findings.sort((a, b) => a.at - b.at);
  return f;
}

const failed = (f: Figures) => sum(f.statuses) + sum(f.errors) + f.unknown + f.outside;
const sum = (m: Map<unknown, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const counts = (m: Map<string | number, number>) => (m.size === 0 ? '0' : [...m].map(([k, n]) => `${n}×${k}`).join(', '));

/** The last push step that reached the pusher by t (a push's start and exit count as steps). */
function stepBefore(phase: Phase, t: number): { at: number; line: string } | undefined {
  const steps = phase.pushes.flatMap((p, i) => [{ at: p.start, line: `push ${i + 1} starts` }, ...p.steps, { at: p.exit, line: `push ${i + 1} exits` }]);
  return steps.filter((s) => s.at <= t).at(-1);
}

/** Where t falls among the pushes: seconds from the phase start, and the step line before it. */
function context(phase: Phase, t: number): string {
  const before = stepBefore(phase, t);
  const at = `+${secs(t - phase.start)} s`;
  return before ? `${at}, ${ms(t - before.at)} ms after "${before.line.slice(0, 70)}"` : `${at}, before the first push`;
}

/** The window around a push's switch in which a deploy itself could stall the load: the route change, then the old instance's drain and stop. */
const SWITCH_WINDOW = { beforeMs: 1000, afterMs: 4000 };

function printPhases(r: Run, redeploys: Phase, steady: Phase): boolean {
  const a = figures(r, redeploys);
  const b = figures(r, steady);
  const w = [34, 14, 14, 8];
  const row = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(''));
  console.log(`\nweb=${redeploys.web}: ${REDEPLOYS} redeploys in ${secs(redeploys.end - redeploys.start)} s, then as long at steady state`);
  row(['', 'redeploys', 'steady', 'ratio']);
  row(['requests sent', String(a.requests), String(b.requests), '']);
  row(['connections opened', String(redeploys.load.connections), String(steady.load.connections), '']);
  row(['req/s', a.rps.toFixed(0), b.rps.toFixed(0), times(a.rps, b.rps)]);
  row(['non-2xx (count×status)', counts(a.statuses), counts(b.statuses), '']);
  row(['transport errors (count×code)', counts(a.errors), counts(b.errors), '']);
  row(['unknown bodies', String(a.unknown), String(b.unknown), '']);
  row(['bodies outside old/new window', String(a.outside), String(b.outside), '']);
  row(['longest pause, ms', ms(a.pause.ms), ms(b.pause.ms), times(a.pause.ms, b.pause.ms)]);
  row(['longest request, ms', ms(a.slowest.ms), ms(b.slowest.ms), times(a.slowest.ms, b.slowest.ms)]);
  row(['p50 latency, ms', a.p50.toFixed(1), b.p50.toFixed(1), times(a.p50, b.p50)]);
  row(['p99 latency, ms', a.p99.toFixed(1), b.p99.toFixed(1), times(a.p99, b.p99)]);

  console.log(`\n  push  release  push s  switched at s  requests  failed  longest pause ms  around switch ms  longest pause after`);
  redeploys.pushes.forEach((p, i) => {
    const next = redeploys.pushes[i + 1]?.start ?? redeploys.end;
    const inWindow = redeploys.load.requests.filter(([s]) => s >= p.start && s < next);
    const ends = inWindow.filter(([, , status, , error]) => !error && status >= 200 && status < 300).map(([, e]) => e).sort((x, y) => x - y);
    const switched = p.steps.find((s) => s.line.startsWith('Traffic switched'))?.at ?? NaN;
    const longest = longestPause(ends);
    const around = Number.isFinite(switched) ? longestPause(ends, switched - SWITCH_WINDOW.beforeMs, switched + SWITCH_WINDOW.afterMs).ms : NaN;
    const cells = [String(i + 1), `v${p.release}`, secs(p.exit - p.start), secs(switched - p.start), String(inWindow.length), String(inWindow.length - ends.length), ms(longest.ms), ms(around)];
    const where = stepBefore(redeploys, longest.at)?.line.slice(0, 40) ?? '';
    console.log(`  ${cells.map((c, j) => c.padStart([4, 7, 8, 14, 10, 8, 18, 18][j]!)).join('')}  ${where}`);
  });
  console.log(`  (s from the push start; "around switch": from ${SWITCH_WINDOW.beforeMs / 1000} s before the "Traffic switched" line to ${SWITCH_WINDOW.afterMs / 1000} s after, the old instance's drain and stop included)`);
  const instancesPerRelease = [...a.served.values()].map((m) => m.size);
  const spread = [...a.served].map(([v, m]) => `v${r.releaseOf.get(v)}: ${[...m.values()].join('/')}`).join(', ');
  console.log(`  answers per instance of each release served: ${spread} (instances per release: ${[...new Set(instancesPerRelease)].join(', ')})`);
  console.log(`  longest pause during redeploys at ${context(redeploys, a.pause.at)}; longest request started at ${context(redeploys, a.slowest.at)}`);

  for (const [phase, f] of [
    [redeploys, a],
    [steady, b],
  ] as const) {
    if (f.findings.length === 0 && phase.daemonLog.length === 0) continue;
    console.log(`\n  ${phase.name}: ${f.findings.length} finding(s)${f.findings.length > LISTED ? `, the first ${LISTED}` : ''}, request start against the push steps:`);
    for (const x of f.findings.slice(0, LISTED)) console.log(`    ${context(phase, x.at)}: ${x.what}`);
    if (phase.daemonLog.length > 0) {
      console.log(`  ${phase.name}: the daemon logged ${phase.daemonLog.length} upstream error(s)/warning(s)${phase.daemonLog.length > LISTED ? `, the first ${LISTED}` : ''}:`);
      for (const x of phase.daemonLog.slice(0, LISTED)) console.log(`    ${context(phase, x.at)}: ${x.line.slice(0, 160)}`);
    }
  }
  if (failed(a) + failed(b) > 0) {
    console.log('\n  push output of the redeploy phase, timestamped (s from the phase start):');
    for (const p of redeploys.pushes) {
      console.log(`    +${secs(p.start - redeploys.start).padStart(5)}  (git push of ${p.version})`);
      for (const s of p.steps) console.log(`    +${secs(s.at - redeploys.start).padStart(5)}  ${s.line.slice(0, 100)}`);
      console.log(`    +${secs(p.exit - redeploys.start).padStart(5)}  (git push exits)`);
    }
  }

  console.log(
    `\n  web=${redeploys.web}: longest pause during redeploys ${ms(a.pause.ms)} ms vs ${ms(b.pause.ms)} ms at steady state (${times(a.pause.ms, b.pause.ms)}); ` +
      `${a.rps.toFixed(0)} req/s during redeploys vs ${b.rps.toFixed(0)} steady (${times(a.rps, b.rps)}); ` +
      `${sum(a.statuses) + sum(a.errors)} failed request(s), ${a.unknown} unknown body(ies), ${a.outside} outside their window.`,
  );
  return failed(a) + failed(b) === 0;
}

// ---- main --------------------------------------------------------------------------------------

async function firstDeploy(r: Run): Promise<void> {
  await cli(r.pier, ['apps:create', APP]);
  const version = await fixtureVersion(r.repo);
  const p = await push(r.pier, r.repo, version, LIMITS.firstPush);
  r.versions.push(version);
  r.releaseOf.set(version, p.release);
  await recordInstances(r.docker, r.pier.settings.instance, r.instances);
  console.log(`first deploy: v${p.release} in ${secs(p.exit - p.start)} s`);
}

async function main(): Promise<void> {
  const docker = new Docker();
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'pier-bench-zdt-'));
  let pier: TestPier | undefined;
  let failure: unknown;
  let clean = true;
  try {
    knob('BENCH_REDEPLOYS', REDEPLOYS, 1);
    knob('BENCH_CONCURRENCY', CONCURRENCY, 1);
    knob('BENCH_PAUSE_MS', PAUSE_MS, 0);
    for (const web of SCALES) knob('BENCH_SCALES', web, 1);
    budget.timeFor('starting Pier', 30_000);
    const logFile = path.join(logDir, 'daemon.log');
    pier = await TestPier.start({ logFile });
    budget.instance = pier.settings.instance;
    console.log(
      `Zero-downtime bench: Pier instance ${budget.instance}, fixture ${FIXTURE}, ${REDEPLOYS} redeploys per web count (${SCALES.join(', ')}), ` +
        `${CONCURRENCY} keep-alive loops pausing ${PAUSE_MS} ms; node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    const r: Run = { pier, docker, repo: await pier.fixtureRepo(FIXTURE), logFile, versions: [], releaseOf: new Map(), instances: new Map() };
    await firstDeploy(r);
    let ok = true;
    let web = 1;
    for (const want of SCALES) {
      if (budget.left() < LIMITS.phaseMin) throw new BenchAbort(`out of time before web=${want}`);
      if (want !== web) {
        await cli(pier, ['ps:scale', APP, `web=${want}`]);
        await recordInstances(docker, pier.settings.instance, r.instances);
        web = want;
      }
      await settle(docker, pier.settings.instance, web);
      const redeploys = await redeployPhase(r, web);
      const steady = await steadyPhase(r, web, redeploys.end - redeploys.start);
      ok = printPhases(r, redeploys, steady) && ok;
    }
    console.log(`\n${ok ? 'Zero-downtime: every request answered 2xx with a body of the old or the new release.' : 'Zero-downtime: NOT met (see the findings above).'}`);
    if (!ok) process.exitCode = 1;
  } catch (err) {
    failure = err;
    console.error(`\nZero-downtime bench ${err instanceof BenchAbort ? 'aborted' : 'failed'}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    clean = pier ? await budget.closePier(docker, pier, failure !== undefined) : true;
    await rm(logDir, { recursive: true, force: true });
  }
  console.log(`\n(bench took ${secs(now() - t0)} s including start-up and clean-up)`);
  // After a forced clean-up the daemon may still hold handles: leave now.
  if (!clean) process.exit(1);
}

await main();
