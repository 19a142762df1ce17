/**
 * Router throughput: requests/second, p50 and p99 through Pier's router, nginx (when installed; the
 * hand-written reference config is bench/router/nginx.conf) and a node:http + http-proxy keep-alive
 * proxy (what Pier's router used to be), all against the same upstream, measured in the same run with
 * the same fixed concurrency; then how long a route change written to Redis takes to be served.
 *
 *   npx tsx bench/router/run.ts
 *
 * Needs Redis (PIER_TEST_REDIS_URL, default redis://127.0.0.1:6379); uses its own key prefix and
 * deletes it afterwards. Load comes from wrk when installed (apt-get install -y wrk), otherwise from a
 * Node load generator in its own process; nginx is skipped when absent (apt-get install -y nginx).
 * Targets are measured in interleaved rounds, so a slow spell of a shared machine hits all of them
 * alike. Knobs: BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32), BENCH_LOADGEN (wrk|node),
 * BENCH_ROUTE_CHANGES (20), BENCH_NGINX_WORKERS (1, or auto), BENCH_ACCESS_LOG (1: the router writes its
 * access log to Redis, as the daemon's does; 0: no access log; both: adds the target "pier -log", a
 * second router without one, to see the log's cost in one run), BENCH_ROUTER_WORKERS (unset; N adds the
 * target "pier xN": `pier daemon --role router` with PIER_ROUTER_WORKERS=N, in a process of its own),
 * BENCH_HTTPS (1: adds the targets "pier https" and "nginx https", the same router and nginx over TLS with
 * one test-CA certificate made with openssl at start, wrk's connections kept alive as over HTTP, so they
 * measure TLS record costs, not handshakes; needs wrk; 0: HTTP only, two targets' rounds shorter),
 * BENCH_TARGETS (unset: all; else the names to measure, comma-separated, e.g. "http-proxy,pier,pier -log";
 * ratios with a target left out say n/a). Beside each target's CPU per request is Redis's: the access
 * log's writes cost Redis too, on the cores the target shares.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { testCa, type IssuedCert } from '../../test/helpers/certs.js';
import { close, closedPort, get, listen } from '../../test/helpers/http.js';
import { testRedisUrl, uniqueInstance } from '../../test/helpers/redis.js';
import { startRouter, type RunningRouter } from '../../test/helpers/router.js';
import { createLogger } from '../../src/log.js';
import { AccessLog } from '../../src/router/access-log.js';
import { MIN_TLS_VERSION } from '../../src/router/tls-certificates.js';
import type { AccessLogWriter } from '../../src/state/access-log-writer.js';
import type { State } from '../../src/state/index.js';
import type { Redis } from '../../src/state/redis.js';
import { median } from '../lib/common.js';
import { startNginxPlane, type RunningNginxPlane } from '../../test/helpers/nginx-plane.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUTE_CHANGES = Number(process.env.BENCH_ROUTE_CHANGES ?? 20);
/** One worker by default: Pier's router is one process too. */
const NGINX_WORKERS = process.env.BENCH_NGINX_WORKERS ?? '1';
const ACCESS_LOG = process.env.BENCH_ACCESS_LOG !== '0';
const ROUTER_WORKERS = process.env.BENCH_ROUTER_WORKERS;
const ONLY = process.env.BENCH_TARGETS?.split(',');
const WARMUP_SECONDS = 1;
const APP = 'bench';
const HOST = `${APP}.localhost`;
const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

interface Result {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx answers plus socket errors: must be 0 for the figure to mean anything. */
  failures: number;
  /** CPU time the target spent per request (user + system, µs): unlike req/s, barely moved by other load on the machine. */
  cpuUs: number;
  /** Redis's CPU time per request (µs): the access log's writes cost it, on the same cores as the target. */
  redisUs: number;
}

/** Whose CPU time a target is: this process (Pier's router runs in it), or a child and its own children (nginx's worker). */
type CpuOwner = 'self' | number;

/** A target measured over HTTP, or over TLS when its scheme says so. */
type Target = [name: string, port: number, owner: CpuOwner, scheme?: 'https'];

const targetUrl = ([, port, , scheme]: Target) => `${scheme ?? 'http'}://127.0.0.1:${port}/`;

const CLOCK_TICK_US = 10_000;

/** CPU time so far of a process and its direct children, in µs. */
function cpuTime(owner: CpuOwner): number {
  if (owner === 'self') {
    const u = process.cpuUsage();
    return u.user + u.system;
  }
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after "(comm)": state, ppid, …, utime (12th), stime (13th).
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(entry) === owner || Number(fields[1]) === owner) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks * CLOCK_TICK_US;
}

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const wrk = process.env.BENCH_LOADGEN === 'node' ? undefined : which('wrk');
const nginxBin = which('nginx');
/** The Node load generator speaks plain HTTP only. */
const HTTPS = process.env.BENCH_HTTPS !== '0' && wrk !== undefined;

/** Runs a command to completion and returns its stdout; rejects on a non-zero exit. */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${err || out}`))));
  });
}

/** wrk prints latencies as 512.00us, 1.20ms or 1.01s. */
function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Redis's own CPU time so far, in µs (INFO cpu: the server's, whichever process asks). */
async function redisCpuTime(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const seconds = (field: string) => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6;
}

async function measure(url: string, seconds: number, owner: CpuOwner, redis: Redis): Promise<Result> {
  const [cpu0, redis0] = [cpuTime(owner), await redisCpuTime(redis)];
  const result = await load(url, seconds);
  const requests = result.rps * seconds;
  return { ...result, cpuUs: (cpuTime(owner) - cpu0) / requests, redisUs: ((await redisCpuTime(redis)) - redis0) / requests };
}

async function load(url: string, seconds: number): Promise<Omit<Result, 'cpuUs' | 'redisUs'>> {
  if (wrk) {
    const out = await run(wrk, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Host: ${HOST}`, url]);
    const rps = Number(/Requests\/sec:\s*([\d.]+)/.exec(out)?.[1] ?? NaN);
    const p50 = /^\s*50%\s+(\S+)/m.exec(out)?.[1] ?? '';
    const p99 = /^\s*99%\s+(\S+)/m.exec(out)?.[1] ?? '';
    const non2xx = Number(/Non-2xx or 3xx responses:\s*(\d+)/.exec(out)?.[1] ?? 0);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const socketErrors = sock ? sock.slice(1).reduce((s, n) => s + Number(n), 0) : 0;
    return { rps, p50Ms: toMs(p50), p99Ms: toMs(p99), failures: non2xx + socketErrors };
  }
  const out = await run(process.execPath, ['--import', 'tsx', join(here, 'load.ts'), url, HOST, String(CONNECTIONS), String(seconds)]);
  const r = JSON.parse(out) as { requests: number; seconds: number; bad: number; errors: number; p50Ms: number; p99Ms: number };
  return { rps: r.requests / r.seconds, p50Ms: r.p50Ms, p99Ms: r.p99Ms, failures: r.bad + r.errors };
}

/** Starts a bench script in its own process and resolves with the port it prints as its first line. */
function startScript(script: string, args: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${script} exited early (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, port: Number(line) }));
  });
}

/** Stops a child by its PID and waits for it to exit (SIGKILL after 5 s). */
function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Resolves once `port` answers the bench app's "ok", within `timeoutMs`. */
async function answering(port: number, what: string, alive: () => boolean = () => true, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${what} exited at start`);
    if (await get(port, HOST, { agent: false }).then((r) => r.body === 'ok', () => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The reference nginx, on a plain HTTP port and a TLS one serving `cert`. */
async function startNginx(dir: string, upstreamPort: number, cert: IssuedCert): Promise<{ child: ChildProcess; port: number; httpsPort: number }> {
  const port = await closedPort();
  const httpsPort = await closedPort();
  const conf = join(dir, 'nginx.conf');
  const template = readFileSync(join(here, 'nginx.conf'), 'utf8');
  const vars = { __WORKERS__: NGINX_WORKERS, __DIR__: dir, __UPSTREAM_PORT__: String(upstreamPort), __HTTPS_PORT__: String(httpsPort), __PORT__: String(port), __CERT__: cert.certFile, __KEY__: cert.keyFile };
  writeFileSync(conf, Object.entries(vars).reduce((text, [name, value]) => text.replaceAll(name, value), template));
  const child = spawn(nginxBin!, ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    await answering(port, `nginx (see ${join(dir, 'error.log')})`, () => !exited);
  } catch (err) {
    await stop(child);
    throw err;
  }
  return { child, port, httpsPort };
}

/** Throws unless `port` answers the bench app's "ok" over TLS, with a certificate the bench's CA issued. */
async function answersTls(port: number, what: string, caPem: string): Promise<void> {
  const body = await new Promise<string>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, servername: HOST, headers: { host: HOST }, ca: caPem, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    });
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  }).catch((err: Error) => err.message);
  if (body !== 'ok') throw new Error(`${what} does not answer over HTTPS: ${body}`);
}

/** `pier daemon --role router` with PIER_ROUTER_WORKERS=`count`, on the bench's Redis instance (CPU: it and its workers). */
async function startRouterWorkers(instance: string, count: string): Promise<{ child: ChildProcess; port: number }> {
  const port = await closedPort();
  const env = { ...process.env, PIER_ENV_FILE: '/nonexistent', PIER_INSTANCE: instance, PIER_REDIS_URL: testRedisUrl, PIER_HTTP_PORT: String(port), PIER_HTTPS_PORT: String(await closedPort()), PIER_ROUTER_WORKERS: count, PIER_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'daemon', '--role', 'router'], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = false;
  child.on('exit', () => (exited = true));
  try {
    // Each worker loads tsx and the daemon's modules first.
    await answering(port, `pier daemon --role router with ${count} workers`, () => !exited, 30_000);
  } catch (err) {
    await stop(child);
    throw err;
  }
  return { child, port };
}

/**
 * Milliseconds from a route written to Redis to the router serving the new upstream, over `changes`
 * flips between two upstreams; polled over a kept-alive connection.
 */
async function routeChangeLatencies(router: { state: State; port: number }, upstreams: [string, string], bodies: [string, string], changes: number, keepAlive = true): Promise<number[]> {
  // nginx closes idle kept-alive connections on every reload: its plane is polled on fresh ones.
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  const latencies: number[] = [];
  try {
    for (let i = 0; i < changes; i++) {
      const to = (i + 1) % 2;
      const t0 = performance.now();
      await router.state.routes.set({ app: APP, upstreams: [upstreams[to]!] });
      for (;;) {
        if ((await get(router.port, HOST, { agent })).body === bodies[to]) break;
        if (performance.now() - t0 > 5000) throw new Error('a route change was not served within 5 s');
      }
      latencies.push(performance.now() - t0);
      // Untimed: the change has fully landed (nginx's old workers may still accept for a moment) before the next one.
      for (let streak = 0; streak < SETTLED_STREAK; ) {
        streak = (await get(router.port, HOST, { agent })).body === bodies[to] ? streak + 1 : 0;
        if (performance.now() - t0 > 5000) throw new Error('a route change did not settle within 5 s');
      }
    }
  } finally {
    if (agent) agent.destroy();
  }
  return latencies;
}

const SETTLED_STREAK = 5;

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'pier-bench-router-'));
  let upstream: { child: ChildProcess; port: number } | undefined;
  let baseline: { child: ChildProcess; port: number } | undefined;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  let nginxPlane: RunningNginxPlane | undefined;
  let router: RunningRouter | undefined;
  let unlogged: RunningRouter | undefined;
  let accessLog: AccessLog | undefined;
  let accessLogWriter: AccessLogWriter | undefined;
  let workers: { child: ChildProcess; port: number } | undefined;
  const moved = http.createServer((_req, res) => res.end('moved'));
  try {
    upstream = await startScript('upstream.ts');
    const upstreamAddress = `127.0.0.1:${upstream.port}`;
    const instance = uniqueInstance('bench');
    accessLog = ACCESS_LOG ? new AccessLog((entries) => (accessLogWriter ??= router!.state.events.accessLogWriter()).write(entries), createLogger('warn')) : undefined;
    const ca = await testCa(dir);
    const cert = await ca.issue([HOST]);
    const routerHttpsPort = await closedPort();
    // Every SNI name gets the bench's certificate: the lookup runs once a handshake, and wrk keeps its connections.
    const context = tls.createSecureContext({ cert: cert.certPem, key: cert.keyPem, minVersion: MIN_TLS_VERSION });
    const certificates = { contextFor: () => context, covers: () => true };
    router = await startRouter(testRedisUrl, instance, 'localhost', { onRequestDone: accessLog?.record, https: { port: routerHttpsPort, certificates } });
    await router.state.apps.create(APP);
    await router.state.routes.set({ app: APP, upstreams: [upstreamAddress] });
    await answering(router.port, "Pier's router");
    if (process.env.BENCH_ACCESS_LOG === 'both') unlogged = await startRouter(testRedisUrl, instance, 'localhost');
    baseline = await startScript('http-proxy-baseline.ts', [String(upstream.port), String(CONNECTIONS)]);
    await answering(baseline.port, 'the http-proxy baseline');
    if (nginxBin) {
      nginx = await startNginx(dir, upstream.port, cert);
      // Its access log takes the daemon's path: nginx's file read here, its lines into the same writer as the router's.
      nginxPlane = await startNginxPlane(testRedisUrl, instance, { dir, workers: NGINX_WORKERS, nginx: nginxBin, recordAccess: accessLog?.recordLine });
      await answering(nginxPlane.port, "Pier's nginx plane");
    }
    if (ROUTER_WORKERS) workers = await startRouterWorkers(instance, ROUTER_WORKERS);

    const targets = ([
      ['direct', upstream.port, upstream.child.pid!],
      ...(nginx ? ([['nginx', nginx.port, nginx.child.pid!]] as Array<[string, number, CpuOwner]>) : []),
      ...(nginxPlane ? ([['pier nginx', nginxPlane.port, nginxPlane.pid]] as Array<[string, number, CpuOwner]>) : []),
      ['http-proxy', baseline.port, baseline.child.pid!],
      ['pier', router.port, 'self'],
      ...(unlogged ? ([['pier -log', unlogged.port, 'self']] as Array<[string, number, CpuOwner]>) : []),
      ...(workers ? ([[`pier x${ROUTER_WORKERS}`, workers.port, workers.child.pid!]] as Array<[string, number, CpuOwner]>) : []),
      ...(HTTPS ? ([['pier https', routerHttpsPort, 'self', 'https']] as Target[]) : []),
      ...(HTTPS && nginx ? ([['nginx https', nginx.httpsPort, nginx.child.pid!, 'https']] as Target[]) : []),
    ] as Target[]).filter(([name]) => !ONLY || ONLY.includes(name));
    if (HTTPS) await answersTls(routerHttpsPort, "Pier's router", ca.caPem);
    if (HTTPS && nginx) await answersTls(nginx.httpsPort, 'nginx', ca.caPem);
    const loadgen = wrk ? `wrk, 1 thread` : 'Node load generator (install wrk for steadier figures)';
    console.log(`Router bench: ${CONNECTIONS} keep-alive connections, ${ROUNDS} interleaved rounds of ${SECONDS} s per target; load from ${loadgen}`);
    console.log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}${nginxBin ? `, nginx workers: ${NGINX_WORKERS}` : ', nginx not installed: skipped'}, access log ${ACCESS_LOG ? 'on' : 'off'}${unlogged ? ' (and off for "pier -log")' : ''}\n`);

    for (const target of targets) await measure(targetUrl(target), WARMUP_SECONDS, target[2], router.state.redis);
    const results = new Map<string, Result[]>(targets.map(([name]) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) results.get(target[0])!.push(await measure(targetUrl(target), SECONDS, target[2], router.state.redis));
    }

    const mean = (rs: Result[], key: keyof Result) => rs.reduce((s, r) => s + r[key], 0) / rs.length;
    console.log(`${'target'.padEnd(12)}  ${'req/s'.padStart(8)}  ${'rounds'.padEnd(24)}  ${'p50 ms'.padStart(7)}  ${'p99 ms'.padStart(7)}  ${'CPU µs/req'.padStart(10)}  ${'Redis µs/req'.padStart(12)}  failures`);
    for (const [name, rs] of results) {
      const rounds = rs.map((r) => fmt(r.rps)).join(' / ');
      const failures = rs.reduce((s, r) => s + r.failures, 0);
      console.log(
        `${name.padEnd(12)}  ${fmt(mean(rs, 'rps')).padStart(8)}  ${rounds.padEnd(24)}  ${fmt(mean(rs, 'p50Ms'), 2).padStart(7)}  ${fmt(mean(rs, 'p99Ms'), 2).padStart(7)}  ${fmt(mean(rs, 'cpuUs'), 1).padStart(10)}  ${fmt(mean(rs, 'redisUs'), 1).padStart(12)}  ${failures}`,
      );
    }
    /** a/b of the means, with the per-round ratios (same round, same conditions) to show the spread. */
    const ratio = (a: string, b: string, key: 'rps' | 'p99Ms' | 'cpuUs') => {
      if (!results.has(a) || !results.has(b)) return 'n/a (not measured)';
      const perRound = results.get(a)!.map((r, i) => fmt(r[key] / results.get(b)![i]![key], 2)).join(' / ');
      return `${fmt(mean(results.get(a)!, key) / mean(results.get(b)!, key), 2)}  (rounds: ${perRound})`;
    };
    console.log('');
    if (results.has('nginx')) {
      console.log(`pier/nginx req/s       ${ratio('pier', 'nginx', 'rps')}   target >= 0.5`);
      console.log(`pier/nginx p99         ${ratio('pier', 'nginx', 'p99Ms')}   target <= 2`);
      console.log(`pier nginx/nginx req/s ${ratio('pier nginx', 'nginx', 'rps')}   target >= 0.9`);
    }
    console.log(`pier/http-proxy req/s  ${ratio('pier', 'http-proxy', 'rps')}   target >= 2.5`);
    console.log(`http-proxy/pier CPU    ${ratio('http-proxy', 'pier', 'cpuUs')}`);
    if (results.has('nginx')) console.log(`pier/nginx CPU         ${ratio('pier', 'nginx', 'cpuUs')}`);
    console.log(`pier/direct req/s      ${ratio('pier', 'direct', 'rps')}`);
    if (results.has('nginx https')) {
      console.log(`pier https/nginx https req/s  ${ratio('pier https', 'nginx https', 'rps')}`);
      console.log(`pier https/nginx https p99    ${ratio('pier https', 'nginx https', 'p99Ms')}`);
      console.log(`pier https/nginx https CPU    ${ratio('pier https', 'nginx https', 'cpuUs')}`);
    }
    if (results.has('pier https')) console.log(`pier https/pier CPU    ${ratio('pier https', 'pier', 'cpuUs')}   (what TLS costs the router)`);
    if (unlogged) console.log(`pier/pier -log CPU     ${ratio('pier', 'pier -log', 'cpuUs')}   (the access log's cost)`);
    if (workers) {
      const name = `pier x${ROUTER_WORKERS}`;
      if (results.has('nginx')) console.log(`${`${name}/nginx req/s`.padEnd(22)} ${ratio(name, 'nginx', 'rps')}`);
      console.log(`${`${name}/pier req/s`.padEnd(22)} ${ratio(name, 'pier', 'rps')}`);
    }

    const movedAddress = `127.0.0.1:${await listen(moved)}`;
    const latencies = await routeChangeLatencies(router, [upstreamAddress, movedAddress], ['ok', 'moved'], ROUTE_CHANGES);
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      `\nroute change served after: median ${fmt(median(latencies), 1)} ms, max ${fmt(sorted.at(-1)!, 1)} ms over ${latencies.length} changes   target < 100 ms`,
    );
    if (nginxPlane) {
      // The flips above reached the nginx plane too: it catches up with the last one before its own are timed.
      await answering(nginxPlane.port, "Pier's nginx plane");
      const reloads = await routeChangeLatencies(nginxPlane, [upstreamAddress, movedAddress], ['ok', 'moved'], ROUTE_CHANGES, false);
      const worst = [...reloads].sort((a, b) => a - b).at(-1)!;
      console.log(`route change served by the nginx plane after: median ${fmt(median(reloads), 1)} ms, max ${fmt(worst, 1)} ms over ${reloads.length} changes   target < 1000 ms`);
    }

    const failed = [...results].filter(([, rs]) => rs.some((r) => r.failures > 0)).map(([n]) => n);
    if (failed.length > 0) {
      console.log(`\nWARNING: failed requests against ${failed.join(', ')}; those figures are not comparable.`);
      process.exitCode = 1;
    }
  } finally {
    await close(moved);
    if (nginx) await stop(nginx.child);
    await nginxPlane?.stop();
    if (baseline) await stop(baseline.child);
    if (workers) await stop(workers.child);
    // Before the router's Redis connection goes.
    await accessLog?.close();
    accessLogWriter?.close();
    if (unlogged) await unlogged.stop();
    if (router) await router.stop();
    if (upstream) await stop(upstream.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
