/**
 * Deploy speed: `git push` of an Express app (test/fixtures/express-app: express, morgan,
 * cookie-parser, ~70 packages) measured three ways, each from the start of `git push` until the new
 * release answers through Pier's router:
 *
 *   (a) the first deploy (empty build cache: Node download, `npm ci`);
 *   (b) a redeploy after a one-line code change (the VERSION line of server.js), dependencies cached;
 *   (c) a redeploy with no change (an empty commit, since git will not push an identical ref);
 *
 * against the reference any deploy pays, measured in the same run: `docker create` + `docker start`
 * of the same release image on the instance's Docker network until the container first answers HTTP.
 *
 *   npx tsx bench/deploy/run.ts
 *
 * "Answers through the router": from the moment the push starts, a GET goes to the router every
 * 50 ms (Host `<app>.<domain>`, a fresh connection each) until the body shows the new release: its
 * version marker, served by a container other than the one serving before the push (the body names
 * its container's hostname), so (c) counts too. The push's own exit is reported beside it; it comes
 * later, as it includes draining and stopping the old instance.
 *
 * Stages are read off the timestamped `remote:` lines of the push (arrival time at the pusher):
 *   receive  push start        → "-----> Building"           (pack upload, hook, git archive, queue)
 *   build    "Building"        → "-----> Compressing image"  (build container, buildpack compile)
 *   image    "Compressing"     → "-----> Deploying"          (docker commit of the build container)
 *   start    "Deploying"       → "Starting web.1"            (release record, scheduler prep)
 *   health   "Starting web.1"  → "web.1 accept connections"  (docker create + start, app boot, probe)
 *   switch   "accept connections" → new release served by the router (route update, pub/sub, router)
 *
 * Order: (a) once, then BENCH_REPEATS (3) interleaved rounds of {(b), (c), reference}, so a slow
 * spell of a shared machine hits every measure alike; (b) and (c) are medians. A push that fails, or
 * that exits 0 without building and deploying, fails the bench with the push's whole output.
 *
 * Starts a whole Pier daemon in-process under its own instance name (TestPier), so it never touches
 * an installed Pier or other test runs; everything it creates is removed at the end. Needs Docker,
 * git, the stack image, the npm registry and a Redis with AOF (PIER_TEST_REDIS_URL). The run is
 * bounded: BENCH_BUDGET_S (200) seconds of measuring, then at most 30 s of clean-up; over budget it
 * aborts with a message and still cleans up.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { containerAddress } from '../../src/scheduler/docker-network.js';
import { hardenedHostConfig } from '../../src/scheduler/docker-security.js';
import { TestPier, removeInstance, repoRoot, run } from '../../test/helpers/test-pier.js';
import { indent, killGroup, median } from '../lib/common.js';
import { fixtureVersion, versionCommit } from '../lib/express-fixture.js';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const BUDGET_MS = Number(process.env.BENCH_BUDGET_S ?? 200) * 1000;
const CLEANUP_MS = 30_000;
const APP = 'bench-express';
const FIXTURE = 'express-app';
const PORT = 5000;
const WEB_COMMAND = 'npm start';
const POLL_MS = 50;
/** How long after a successful push the router may take to serve the new release before we fail. */
const SERVE_AFTER_PUSH_MS = 15_000;
/** The target for (b) on the 2-core reference machine. */
const TARGET_B_MS = 5_000;

const t0 = performance.now();
const deadline = t0 + BUDGET_MS;
const abort = new AbortController();

class BenchAbort extends Error {}

/** Process groups of the children still running (each child leads its own group). */
const children = new Set<number>();
/** The Pier instance under test, for the watchdog's message. */
let instanceUnderTest: string | undefined;

/** Last resort: if measuring and clean-up together overrun, say so and leave. */
const watchdog = setTimeout(() => {
  for (const pgid of children) killGroup(pgid);
  console.error(
    `\nDeploy bench: still running after ${((BUDGET_MS + CLEANUP_MS + 5000) / 1000).toFixed(0)} s; exiting without finishing clean-up` +
      (instanceUnderTest ? ` (instance ${instanceUnderTest} may be left: its containers, volumes and Redis keys carry that name).` : '.'),
  );
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
const ratio = (ms: number, refMs: number) => (Number.isFinite(ms) && Number.isFinite(refMs) && refMs > 0 ? `${(ms / refMs).toFixed(1)}x` : 'n/a');

interface Timed {
  code: number;
  /** Milliseconds from the origin to the child's exit. */
  ms: number;
  output: string;
  /** Milliseconds from the origin to the first output line matching each mark. */
  marks: Record<string, number | undefined>;
  /** Build-log step lines ("-----> ...", "=====> ...", the deploy's progress) with their arrival time. */
  steps: Array<{ at: number; line: string }>;
}

/**
 * Runs a command, timestamping output lines as they arrive (stdout and stderr alike; git writes
 * `remote:` lines to stderr) relative to `origin` (default: the spawn). The child leads its own
 * process group, which is killed on timeout or abort; a timeout's error carries the output so far.
 */
function timedRun(
  step: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; capMs: number; marks?: Record<string, RegExp>; origin?: number },
): Promise<Timed> {
  const timeoutMs = stepTimeout(step, opts.capMs);
  return new Promise((resolve, reject) => {
    const origin = opts.origin ?? performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pgid = child.pid;
    if (pgid !== undefined) children.add(pgid);
    const marks: Record<string, number | undefined> = {};
    const steps: Timed['steps'] = [];
    let output = '';
    let failure: Error | undefined;
    const pending = { out: '', err: '' };
    const scan = (line: string, at: number) => {
      const step = /^(?:remote: )?((?:----->|=====>) .*?|\s+(?:Releasing v|Starting web|web\.\d+ accept connections|Traffic switched|Stopping \d).*?)\s*$/.exec(line);
      if (step) steps.push({ at, line: step[1]!.replace(/^\s+/, '  ') });
      for (const [name, re] of Object.entries(opts.marks ?? {})) if (marks[name] === undefined && re.test(line)) marks[name] = at;
    };
    const onData = (which: 'out' | 'err') => (d: Buffer) => {
      const at = performance.now() - origin;
      const text = d.toString();
      output += text;
      const lines = (pending[which] + text).split(/\r?\n|\r/);
      pending[which] = lines.pop() ?? '';
      for (const line of lines) scan(line, at);
    };
    child.stdout.on('data', onData('out'));
    child.stderr.on('data', onData('err'));
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = () => {
      if (settled) return;
      settled = true;
      const ms = performance.now() - origin;
      clearTimeout(timer);
      clearTimeout(grace);
      if (pgid !== undefined) children.delete(pgid);
      abort.signal.removeEventListener('abort', onAbort);
      scan(pending.out, ms);
      scan(pending.err, ms);
      if (failure) return reject(failure);
      resolve({ code: child.exitCode ?? -1, ms, output, marks, steps });
    };
    const stop = (err: Error) => {
      failure ??= err;
      if (pgid !== undefined) killGroup(pgid);
      child.kill('SIGKILL');
      // Should anything still hold the pipes, give up on them rather than hang.
      grace ??= setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, 2000);
    };
    const timer = setTimeout(() => {
      const tail = output.trimEnd().split('\n').slice(-40).join('\n');
      stop(
        new BenchAbort(
          `${step} did not finish within ${(timeoutMs / 1000).toFixed(0)} s (the bench is bounded to ${BUDGET_MS / 1000} s of measuring). ` +
            (tail ? `Its output so far (last 40 lines):\n${indent(tail)}` : 'It printed nothing.'),
        ),
      );
    }, timeoutMs);
    const onAbort = () => stop(abort.signal.reason as Error);
    abort.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      failure ??= err;
      if (child.pid === undefined) finish();
    });
    child.on('close', finish);
  });
}

/** The real CLI from sources, as TestPier.cli runs it, but timed and bounded. */
async function cli(pier: TestPier, args: string[], step: string, capMs: number): Promise<Timed> {
  const r = await timedRun(step, process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], {
    env: { ...process.env, PIER_URL: pier.apiUrl, PIER_TOKEN: pier.token, PIER_ENV_FILE: '/nonexistent' },
    capMs,
  });
  if (r.code !== 0) throw new Error(`${step} failed (exit ${r.code}):\n${indent(r.output)}`);
  return r;
}

// ---- the app's answers through the router ------------------------------------------------------

interface Answer {
  status: number;
  body: string;
}

/** One GET through the router with the app's Host header, on a fresh connection; undefined when nothing answered. */
function routerGet(pier: TestPier, timeoutMs: number): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port: pier.settings.httpPort,
        path: '/',
        headers: { host: `${APP}.${pier.settings.domain}` },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** The fixture's answer: "version: <marker>" and "instance: <container hostname>" lines. */
function release(answer: Answer | undefined): { version?: string; instance?: string } {
  if (!answer || answer.status !== 200) return {};
  return {
    version: /^version: (.*)$/m.exec(answer.body)?.[1],
    instance: /^instance: (.*)$/m.exec(answer.body)?.[1],
  };
}

const describe = (a: Answer | undefined) => (a ? `${a.status} ${JSON.stringify(a.body.slice(0, 160))}` : 'no answer');

interface Served {
  /** Milliseconds from the origin to the first answer showing the new release. */
  at?: number;
  polls: number;
  last?: Answer;
}

/**
 * Polls the router every POLL_MS (on a fixed grid from `origin`, never two requests at once) until
 * an answer shows `version` from a container other than `previous`, or until `stop` fires.
 */
async function pollRouter(pier: TestPier, origin: number, version: string, previous: string | undefined, stop: AbortSignal): Promise<Served> {
  const served: Served = { polls: 0 };
  while (!stop.aborted && !abort.signal.aborted) {
    const answer = await routerGet(pier, 1000);
    const now = performance.now();
    served.polls++;
    served.last = answer;
    const r = release(answer);
    if (r.version === version && r.instance !== undefined && r.instance !== previous) {
      served.at = now - origin;
      return served;
    }
    await sleep(POLL_MS - ((performance.now() - origin) % POLL_MS));
  }
  return served;
}

// ---- one measured deploy -----------------------------------------------------------------------

const pushMarks = {
  building: /^remote: -----> Building /,
  compressing: /^remote: -----> Compressing image/,
  deploying: /^remote: -----> Deploying/,
  starting: /^remote: \s+Starting web\.1/,
  answers: /^remote: \s+web\.1 accept connections/,
  deployed: /^remote: =====> Application deployed in/,
};
const pushMarkLines: Record<keyof typeof pushMarks, string> = {
  building: '-----> Building',
  compressing: '-----> Compressing image',
  deploying: '-----> Deploying',
  starting: 'Starting web.1',
  answers: 'web.1 accept connections',
  deployed: '=====> Application deployed in',
};

interface Deploy {
  label: string;
  push: Timed;
  /** Push start → the new release first served through the router. */
  servedMs: number;
  polls: number;
}

/**
 * Pushes HEAD to main and times it until the router serves `version` from a new container.
 * A failed push, a push that exits 0 without building and deploying, and a release the router never
 * serves all fail the bench, with the push's whole output.
 */
async function deploy(pier: TestPier, repo: string, label: string, capMs: number, version: string): Promise<Deploy> {
  const previous = release(await routerGet(pier, 2000)).instance;
  const stopPolling = new AbortController();
  const origin = performance.now();
  const polling = pollRouter(pier, origin, version, previous, stopPolling.signal);
  const fail = async (message: string): Promise<never> => {
    stopPolling.abort();
    await polling;
    throw new Error(message);
  };
  let push: Timed;
  try {
    push = await timedRun(label, 'git', ['push', '--force', pier.gitUrl(APP), 'HEAD:main'], {
      cwd: repo,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      capMs,
      marks: pushMarks,
      origin,
    });
  } catch (err) {
    stopPolling.abort();
    await polling;
    throw err;
  }
  if (push.code !== 0) {
    return fail(`${label}: git push failed (exit ${push.code}) after ${secs(push.ms)} s. Its output:\n${indent(push.output)}`);
  }
  const missing = (Object.keys(pushMarks) as Array<keyof typeof pushMarks>).filter((k) => push.marks[k] === undefined);
  if (missing.length > 0) {
    return fail(
      `${label}: git push exited 0 after ${secs(push.ms)} s, but Pier did not build and deploy it ` +
        `(no ${missing.map((k) => `"${pushMarkLines[k]}"`).join(', ')} line). Its output:\n${indent(push.output)}`,
    );
  }
  const waitMs = Math.min(SERVE_AFTER_PUSH_MS, Math.max(0, deadline - performance.now()));
  const timer = setTimeout(() => stopPolling.abort(), waitMs);
  const served = await polling;
  clearTimeout(timer);
  if (served.at === undefined) {
    if (abort.signal.aborted) throw abort.signal.reason as Error;
    return fail(
      `${label}: the push succeeded in ${secs(push.ms)} s, but ${secs(waitMs)} s later the router still did not serve version "${version}" ` +
        `from a new instance (before the push: ${previous ?? 'none'}; last answer: ${describe(served.last)}). The push's output:\n${indent(push.output)}`,
    );
  }
  return { label, push, servedMs: served.at, polls: served.polls };
}

// ---- the commits -------------------------------------------------------------------------------

/** A commit that changes nothing: git will not push an identical ref, Pier still builds and deploys it. */
async function emptyCommit(repo: string, label: string): Promise<void> {
  const r = await run('git', ['-c', 'user.name=Pier Bench', '-c', 'user.email=bench@pier.invalid', 'commit', '-q', '--allow-empty', '-m', `bench: ${label}`], {
    cwd: repo,
    timeoutMs: 30_000,
  });
  if (r.code !== 0) throw new Error(`git commit --allow-empty failed: ${r.stderr}`);
}

// ---- the reference -----------------------------------------------------------------------------

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

/** The image of the app's running web instance. */
async function currentImage(docker: Docker, instance: string): Promise<string> {
  const label = [`pier.instance=${instance}`, `pier.app=${APP}`, 'pier.process=web'];
  const running = await docker.listContainers({ filters: { label, status: ['running'] } });
  if (running.length === 0) throw new Error(`no running web instance of ${APP} to take the reference image from`);
  return running[0]!.Image;
}

/**
 * The reference: create and start a container of the release image on Pier's network, as the
 * scheduler does (same user, PORT, hardened host config, entrypoint pier-launch running the web
 * command), and poll its IP every 10 ms until it answers 200. Timed from before `docker create`;
 * removed afterwards.
 */
async function bareStart(docker: Docker, image: string, network: string, instance: string, round: number): Promise<number> {
  const timeoutMs = stepTimeout(`reference container start ${round}`, 30_000);
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
    if (!ip) throw new Error(`the reference container got no address on network ${network}`);
    for (;;) {
      const status = await probe(ip, PORT, 1000);
      if (status === 200) return performance.now() - started;
      if (abort.signal.aborted) throw abort.signal.reason as Error;
      if (performance.now() - started > timeoutMs) {
        const { State } = await container.inspect();
        throw new BenchAbort(
          `the reference container did not answer 200 on ${ip}:${PORT} within ${(timeoutMs / 1000).toFixed(0)} s (last status: ${status ?? 'no answer'}, running: ${State.Running})`,
        );
      }
      await sleep(10);
    }
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

// ---- the report --------------------------------------------------------------------------------

const STAGES = ['receive', 'build', 'image', 'start', 'health', 'switch'] as const;
type Stage = (typeof STAGES)[number];
const STAGE_LABELS: Record<Stage, string> = {
  receive: 'receive  push → "Building"',
  build: 'build    → "Compressing image"',
  image: 'image    → "Deploying"',
  start: 'start    → "Starting web.1"',
  health: 'health   → "accept connections"',
  switch: 'switch   → served by the router',
};

function stages(d: Deploy): Record<Stage, number> {
  const m = d.push.marks as Record<keyof typeof pushMarks, number>;
  return {
    receive: m.building,
    build: m.compressing - m.building,
    image: m.deploying - m.compressing,
    start: m.starting - m.deploying,
    health: m.answers - m.starting,
    switch: d.servedMs - m.answers,
  };
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

const runs = (v: number[]) => v.map((x) => secs(x)).join(' / ');

function medianRun(ds: Deploy[]): Deploy {
  return [...ds].sort((a, b) => a.servedMs - b.servedMs)[Math.floor(ds.length / 2)]!;
}

/** The build log's step lines, each with the time until the next one (the last: until served). */
function timeline(title: string, d: Deploy): void {
  console.log(`\n${title}: s from push start, +s until the next step`);
  const lines = [...d.push.steps.map((s) => ({ at: s.at, line: s.line })), { at: d.servedMs, line: '(new release first served through the router)' }].sort(
    (a, b) => a.at - b.at,
  );
  lines.forEach((s, i) => {
    const next = lines[i + 1]?.at ?? d.push.ms;
    console.log(`  ${secs(s.at).padStart(6)}  +${secs(next - s.at).padStart(5)}  ${s.line.slice(0, 90)}`);
  });
  console.log(`  ${secs(d.push.ms).padStart(6)}          (git push exits)`);
}

function report(first: Deploy, change: Deploy[], same: Deploy[], reference: number[]): void {
  const refMs = median(reference);
  const bMs = median(change.map((d) => d.servedMs));
  const cMs = median(same.map((d) => d.servedMs));
  const bExit = median(change.map((d) => d.push.ms));
  const cExit = median(same.map((d) => d.push.ms));

  console.log('');
  const w1 = [44, 8, 10, 9, 9, 22];
  console.log(row(['measure (push start → new release served)', 'served s', 'push exit s', 'served/ref', 'exit/ref', 'runs, served s'], w1));
  console.log(row(['(a) first deploy', secs(first.servedMs), secs(first.push.ms), ratio(first.servedMs, refMs), ratio(first.push.ms, refMs), secs(first.servedMs)], w1));
  console.log(row(['(b) one-line change, deps cached (median)', secs(bMs), secs(bExit), ratio(bMs, refMs), ratio(bExit, refMs), runs(change.map((d) => d.servedMs))], w1));
  console.log(row(['(c) no change, empty commit (median)', secs(cMs), secs(cExit), ratio(cMs, refMs), ratio(cExit, refMs), runs(same.map((d) => d.servedMs))], w1));
  console.log(row(['reference: docker create+start→answer (med)', secs(refMs), '', '1.0x', '', runs(reference)], w1));

  console.log('');
  const w2 = [34, 8, 8, 8, 22, 10];
  console.log(row(['stage, s', '(a)', '(b) med', '(c) med', '(b) runs', 'health/ref'], w2));
  const b = change.map(stages);
  const c = same.map(stages);
  const a = stages(first);
  for (const s of STAGES) {
    const bMed = median(b.map((x) => x[s]));
    console.log(
      row(
        [STAGE_LABELS[s], secs(a[s]), secs(bMed), secs(median(c.map((x) => x[s]))), runs(b.map((x) => x[s])), s === 'health' ? ratio(bMed, refMs) : ''],
        w2,
      ),
    );
  }
  console.log(row(['total: new release served', secs(first.servedMs), secs(bMs), secs(cMs), runs(change.map((d) => d.servedMs)), ''], w2));
  const tail = (d: Deploy) => d.push.ms - d.servedMs;
  console.log(row(['(then → push exits: drain, stop old)', secs(tail(first)), secs(median(change.map(tail))), secs(median(same.map(tail))), runs(change.map(tail)), ''], w2));
  const reported = (d: Deploy) => Number(/Application deployed in ([\d.]+)s/.exec(d.push.output)?.[1] ?? NaN) * 1000;
  console.log(row(["(Pier's own \"deployed in\")", secs(reported(first)), secs(median(change.map(reported))), secs(median(same.map(reported))), '', ''], w2));
  console.log('(stage medians are taken per stage, so they need not add up to the median total; "switch" counts from the');
  console.log(' arrival of the "accept connections" line at the pusher, which can trail the route switch itself)');

  timeline('(a) first deploy, step by step', first);
  timeline('(b) median run, step by step', medianRun(change));
  timeline('(c) median run, step by step', medianRun(same));

  console.log('');
  const verdict = bMs < TARGET_B_MS ? 'met' : `missed by ${secs(bMs - TARGET_B_MS)} s`;
  console.log(`(b) target: under ${secs(TARGET_B_MS)} s on the 2-core reference machine. This run: ${secs(bMs)} s on ${os.cpus().length} CPUs (${verdict}).`);
  const bStages = STAGES.map((s) => [s, median(b.map((x) => x[s]))] as const).sort((x, y) => y[1] - x[1]);
  console.log(`(b) where the time goes, largest first: ${bStages.map(([s, ms]) => `${s} ${secs(ms)}`).join(', ')}.`);
}

// ---- main --------------------------------------------------------------------------------------

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
    instanceUnderTest = instance;
    console.log(
      `Deploy bench: Pier instance ${instance}, fixture ${FIXTURE}, ${REPEATS} rounds; node ${process.version}, ` +
        `${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    repo = await pier.fixtureRepo(FIXTURE);
    await cli(pier, ['apps:create', APP], 'apps:create', 30_000);

    process.stdout.write('(a) first deploy ... ');
    const first = await deploy(pier, repo, '(a) first deploy', 150_000, await fixtureVersion(repo));
    console.log(`served ${secs(first.servedMs)} s, push exited ${secs(first.push.ms)} s`);

    const change: Deploy[] = [];
    const same: Deploy[] = [];
    const reference: number[] = [];
    for (let round = 1; round <= REPEATS; round++) {
      const version = `b${round}-${Date.now().toString(36)}`;
      await versionCommit(repo, version);
      const b = await deploy(pier, repo, `(b) one-line change, round ${round}`, 60_000, version);
      change.push(b);

      await emptyCommit(repo, `no change, round ${round}`);
      const c = await deploy(pier, repo, `(c) no change, round ${round}`, 60_000, version);
      same.push(c);

      const ref = await bareStart(docker, await currentImage(docker, instance), instance, instance, round);
      reference.push(ref);
      console.log(
        `round ${round}: (b) served ${secs(b.servedMs)} s / push exit ${secs(b.push.ms)} s, ` +
          `(c) served ${secs(c.servedMs)} s / push exit ${secs(c.push.ms)} s, reference ${secs(ref)} s`,
      );
    }

    report(first, change, same, reference);
  } catch (err) {
    failed = err;
    // Said before the clean-up, so nothing that happens there can swallow it.
    const aborted = err instanceof BenchAbort;
    console.error(`\nDeploy bench ${aborted ? 'aborted' : 'failed'}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    clean = await cleanUp(docker, pier, repo, failed !== undefined);
  }
  console.log(`\n(bench took ${((performance.now() - t0) / 1000).toFixed(1)} s including start-up and clean-up)`);
  // After a forced clean-up the daemon may still hold handles (a build it waits for): leave now.
  if (!clean) process.exit(1);
}

/**
 * Removes everything this run created, bounded in time. A build still running (after a failure or
 * an abort) would hold up the worker's close, so its build container is removed first to make it
 * fail fast.
 */
async function cleanUp(docker: Docker, pier: TestPier | undefined, repo: string | undefined, failed: boolean): Promise<boolean> {
  if (repo) await rm(repo, { recursive: true, force: true }).catch(() => undefined);
  if (!pier) return true;
  const { instance, home } = pier.settings;
  const work = (async () => {
    if (failed || abort.signal.aborted || performance.now() > deadline) {
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
