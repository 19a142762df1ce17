/**
 * The pre-receive hook shared by every app repository. Git quarantines pushed objects until
 * this hook exits, so the hook itself exports the commit before anyone else needs it, then
 * asks the daemon to build and relays the build log to the pusher as it streams.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { RESULT_MARKER, chooseDeployRef, parseRefUpdates, type PushRequest } from './push-protocol.js';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function archive(commit: string, target: string): Promise<void> {
  const git = spawn('git', ['archive', '--format=tar', commit], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  git.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    git.on('error', reject);
    git.on('close', resolve);
  });
  const [code] = await Promise.all([exited, pipeline(git.stdout, createWriteStream(target, { mode: 0o600 }))]);
  if (code !== 0) throw new Error(`git archive failed: ${stderr.trim()}`);
}

/** Streams the daemon's answer line by line; resolves with the build's final status. */
function requestBuild(push: PushRequest, url: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(push);
    const req = http.request(
      `${url}/internal/push`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let pending = '';
        let status = res.statusCode === 200 ? 'unknown' : 'failed';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const lines = (pending + chunk).split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) {
            if (line.startsWith(RESULT_MARKER)) status = line.slice(RESULT_MARKER.length).trim();
            else say(line);
          }
        });
        res.on('end', () => {
          if (pending !== '') say(pending);
          resolve(status);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<number> {
  const app = path.basename(process.cwd()).replace(/\.git$/, '');
  const choice = chooseDeployRef(parseRefUpdates(await readStdin()));
  if ('refuse' in choice) {
    say(` !     ${choice.refuse}`);
    return 1;
  }
  const commit = choice.deploy.newRev;
  const sourcesDir = process.env.PIER_SOURCES_DIR!;
  const sourceTar = path.join(sourcesDir, `${app}-${commit.slice(0, 12)}-${randomBytes(4).toString('hex')}.tar`);
  try {
    await archive(commit, sourceTar);
    const token = (await readFile(process.env.PIER_HOOK_TOKEN_FILE!, 'utf8')).trim();
    const status = await requestBuild({ app, commit, ref: choice.deploy.ref, sourceTar }, process.env.PIER_HOOK_URL!, token);
    if (status === 'unknown') {
      say(' !     The connection to Pier ended before the build finished (was the daemon restarted?).');
      say(` !     See what happened with: pier builds:output ${app}`);
    }
    return status === 'succeeded' ? 0 : 1;
  } catch (err) {
    await rm(sourceTar, { force: true });
    say(` !     Pier could not start the build: ${(err as Error).message}`);
    say(' !     Check that the Pier daemon is running (pier apps:list), then push again.');
    return 1;
  }
}

// Node exits quietly with code 0 when nothing is left to wait for; for a hook that would accept an
// unbuilt push, so an early, unexplained end is a failure.
process.once('beforeExit', () => {
  say(' !     The Pier hook ended before the build finished; the push is refused. Push again.');
  process.exit(1);
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(` !     ${(err as Error).message}`);
    process.exit(1);
  },
);
