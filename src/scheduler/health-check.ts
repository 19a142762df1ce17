import http from 'node:http';
import net from 'node:net';
import type { HealthCheck } from '../app-json.js';

export interface ProbeOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Stop early when this says the instance is gone (e.g. the container exited). */
  alive: () => Promise<boolean>;
}

export type CheckOutcome = { ok: true } | { ok: false; exited: boolean; reason: string };

const POLL_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connects(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => socket.destroy());
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

function get(host: string, port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += body.length < 64 * 1024 ? d : ''));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    req.on('error', (err) => resolve({ error: err.message }));
  });
}

/**
 * The default check, and the first step of every web check: polls until the instance's port
 * accepts connections. The switch happens as soon as it does: there is no fixed wait.
 */
export async function waitForPort(address: string, opts: ProbeOptions): Promise<CheckOutcome> {
  const [host, portText] = address.split(':');
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (await connects(host!, Number(portText), 1000)) return { ok: true };
    if (!(await opts.alive())) return { ok: false, exited: true, reason: 'exited before it accepted connections on its port' };
    await sleep(POLL_MS);
  }
  return { ok: false, exited: false, reason: `did not accept connections on port ${portText} within ${opts.timeoutMs / 1000}s` };
}

/** Runs app.json's startup checks (Dokku's format) in order; each gets `attempts` tries, `wait` apart. */
export async function runChecks(host: string, defaultPort: number, checks: HealthCheck[], alive: () => Promise<boolean>, startedAt: number): Promise<CheckOutcome> {
  for (const check of checks.filter((c) => c.type === 'startup')) {
    const label = check.name ?? check.path ?? `uptime ${check.uptime}s`;
    if (check.initialDelay > 0) await sleep(check.initialDelay * 1000);
    let last = '';
    let passed = false;
    for (let attempt = 1; attempt <= check.attempts && !passed; attempt++) {
      if (attempt > 1) await sleep(check.wait * 1000);
      if (!(await alive())) return { ok: false, exited: true, reason: `exited during the check "${label}"` };
      const upFor = (Date.now() - startedAt) / 1000;
      if (upFor < check.uptime) {
        await sleep((check.uptime - upFor) * 1000);
        if (!(await alive())) return { ok: false, exited: true, reason: `did not stay up for ${check.uptime}s ("${label}")` };
      }
      if (!check.path) {
        passed = true;
        break;
      }
      const answer = await get(host, check.port ?? defaultPort, check.path, check.timeout * 1000);
      if ('error' in answer) last = answer.error;
      else if (answer.status < 200 || answer.status >= 300) last = `answered ${answer.status}`;
      else if (check.content !== undefined && !answer.body.includes(check.content)) last = `answered without "${check.content}"`;
      else passed = true;
    }
    if (!passed) return { ok: false, exited: false, reason: `failed the check "${label}" (GET ${check.path}) ${check.attempts} time(s): ${last}` };
  }
  return { ok: true };
}
