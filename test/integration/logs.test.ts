import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { closedPort, waitFor } from '../helpers/http.js';
import { connectTestRedis } from '../helpers/redis.js';
import { TestPier, repoRoot, webContainer } from '../helpers/test-pier.js';

/** `2026-12-01T07:00:00.123456+00:00 app[web.1]: text`, as `heroku logs` prints lines. */
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) (app\[[a-z]+\.\d+\]|pier\[[a-z]+\]): (.*)$/;

describe('pier logs: the output of every instance and Pier\'s deploy events, merged by time', function () {
  this.timeout(300_000);
  const app = 'logs-demo';
  let pier: TestPier;
  /** Pier's Redis, seen from outside: CLIENT LIST shows the daemon's connections. */
  let redis: Redis;

  before(async () => {
    redis = await connectTestRedis();
    pier = await TestPier.start();
    const pushed = await pier.push(await pier.fixtureRepo('logs-app'), app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    const scaled = await pier.cli(['ps:scale', app, 'web=2']);
    expect(scaled.code, scaled.stderr).to.equal(0);
  });

  after(async () => {
    await pier?.close();
    redis?.disconnect();
  });

  const logs = async (...args: string[]) => {
    const result = await pier.cli(['logs', app, ...args]);
    expect(result.code, result.stderr).to.equal(0);
    return result.stdout.split('\n').filter((l) => l !== '');
  };
  /** Requests through the router until both web instances have answered one. */
  const requestBoth = async (marker: string) => {
    const answered = new Set<string>();
    for (let i = 0; answered.size < 2 && i < 40; i++) answered.add((await pier.get(app, `/?${marker}-${i}`)).body.trim());
    expect([...answered].sort()).to.deep.equal(['hello from web.1', 'hello from web.2']);
  };

  /** `pier logs APP -t` as a child process, since it runs until stopped. */
  const follow = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'logs', app, '-t'], {
      env: { ...process.env, PIER_URL: pier.apiUrl, PIER_TOKEN: pier.token, PIER_ENV_FILE: '/nonexistent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, exited, stderr: () => stderr };
  };

  it('prints both instances\' output and the deploy events, each line with its time and source, oldest first', async () => {
    await requestBoth('merged');
    const lines = await logs();
    for (const line of lines) expect(line).to.match(LINE);
    const text = lines.join('\n');
    expect(text).to.match(/ app\[web\.1\]: web\.1 listening on 5000$/m);
    // python3 -m http.server logs every request on stderr.
    expect(text).to.match(/ app\[web\.1\]: .*"GET \/\?merged-\d+ HTTP\/1\.1" 200 -$/m);
    expect(text).to.match(/ app\[web\.2\]: .*"GET \/\?merged-\d+ HTTP\/1\.1" 200 -$/m);
    expect(text).to.match(/ pier\[deploy\]: Releasing v1 \(.*\) by admin$/m);
    expect(text).to.match(/ pier\[deploy\]: Scaled to web=2 by admin$/m);
    const times = lines.map((l) => LINE.exec(l)![1]!);
    expect(times).to.deep.equal([...times].sort());
    expect(text.indexOf('Releasing v1')).to.be.lessThan(text.indexOf('Scaled to web=2'));
  });

  it('-n N prints the latest N lines over all sources', async () => {
    const all = await logs('-n', '10000');
    const five = await logs('-n', '5');
    expect(all.length).to.be.greaterThan(5);
    expect(five).to.deep.equal(all.slice(-5));
  });

  it('-p TYPE keeps one process type, or only Pier\'s events with -p pier', async () => {
    const web = await logs('-p', 'web');
    expect(web.length).to.be.greaterThan(0);
    for (const line of web) expect(line).to.match(/ app\[web\.[12]\]: /);
    const events = await logs('-p', 'pier');
    expect(events.length).to.be.greaterThan(0);
    for (const line of events) expect(line).to.match(/ pier\[deploy\]: /);
  });

  it('refuses a bad -n or -p before asking the API, and the API refuses them too', async () => {
    for (const [flag, value] of [['-n', '0'], ['-n', '10001'], ['-n', 'many'], ['-p', 'web.1']]) {
      const bad = await pier.cli(['logs', app, flag!, value!]);
      expect(bad.code, `${flag} ${value}`).to.equal(1);
      expect(bad.stderr).to.match(new RegExp(`^ ! {5}Invalid ${flag} "${value!.replace('.', '\\.')}"`));
    }
    const api = await fetch(`${pier.apiUrl}/api/apps/${app}/logs?tail=10001`, { headers: { authorization: `Bearer ${pier.token}` } });
    expect(api.status).to.equal(400);
    expect(((await api.json()) as { error: string }).error).to.equal('tail: at most 10000 lines');
    const anonymous = await fetch(`${pier.apiUrl}/api/apps/${app}/logs`);
    expect(anonymous.status).to.equal(401);
    const unknown = await pier.cli(['logs', 'no-such-app']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.contain(' !     App no-such-app does not exist.');
    const wrongToken = await pier.cli(['logs', app], { PIER_TOKEN: 'not-the-token' });
    expect(wrongToken.code).to.equal(1);
    expect(wrongToken.stderr).to.contain(' !     401 Unauthorized: Invalid or missing API token.');
    const nobody = `http://127.0.0.1:${await closedPort()}`;
    const unreachable = await pier.cli(['logs', app], { PIER_URL: nobody });
    expect(unreachable.code).to.equal(1);
    expect(unreachable.stderr).to.contain(` !     Cannot reach the Pier API at ${nobody} (ECONNREFUSED).`);
  });

  it('-t streams new lines as they come, from instances started later too, and leaves nothing open when the client goes', async () => {
    const readers = async () => ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=${pier.settings.instance}:events-reader `)).length;
    const dockerSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap').length;
    // The daemon runs in this process: its Docker connections are ours to count. Background work (events, reconcile) comes and goes.
    let idleSockets = Infinity;
    for (let i = 0; i < 10; i++, await new Promise((r) => setTimeout(r, 50))) idleSockets = Math.min(idleSockets, dockerSockets());
    expect(await readers()).to.equal(0);

    const { child } = follow();
    let streamed = '';
    child.stdout.on('data', (d: Buffer) => (streamed += d.toString()));
    try {
      await waitFor(async () => streamed, (s) => s.includes('Scaled to web=2'), 'the latest lines first', 30_000);
      await waitFor(readers, (n) => n === 1, 'the follower\'s event reader', 5000);
      const started = Date.now();
      await requestBoth('followed');
      await waitFor(async () => streamed, (s) => /app\[web\.1\]: .*"GET \/\?followed-/.test(s) && /app\[web\.2\]: .*"GET \/\?followed-/.test(s), 'the new requests\' lines', 5000);
      expect(Date.now() - started).to.be.lessThan(5000);

      const scaled = await pier.cli(['ps:scale', app, 'web=3']);
      expect(scaled.code, scaled.stderr).to.equal(0);
      await waitFor(async () => streamed, (s) => s.includes('pier[deploy]: Scaled to web=3 by admin') && / app\[web\.3\]: web\.3 listening on 5000/.test(s), 'web.3 and the scale event', 10_000);
      const lines = streamed.trim().split('\n');
      for (const line of lines) expect(line).to.match(LINE);
      // Following starts where the latest lines ended: nothing comes twice.
      expect(lines.filter((l, i) => lines.indexOf(l) !== i)).to.deep.equal([]);
    } finally {
      child.kill('SIGTERM');
    }
    await waitFor(readers, (n) => n === 0, 'the event reader to be closed', 5000);
    await waitFor(async () => dockerSockets(), (n) => n <= idleSockets, `Docker connections back to ${idleSockets}`, 10_000);
  });

  it('keeps the output of an instance that crashed readable', async () => {
    const scaled = await pier.cli(['ps:scale', app, 'crash=1']);
    expect(scaled.code, scaled.stderr).to.equal(0);
    await waitFor(async () => (await pier.cli(['ps', app])).stdout, (ps) => /crash\.1\s+(exited \(1\)|restarting)/.test(ps), 'crash.1 to have crashed', 30_000);
    const lines = await logs('-p', 'crash');
    expect(lines.length).to.be.greaterThan(0);
    for (const line of lines) expect(line).to.match(/^\S+ app\[crash\.1\]: crash: DATABASE_URL is not set, giving up$/);
  });

  it('caps and rotates every instance\'s Docker log so no app can fill the disk', async () => {
    const info = await webContainer(pier, app);
    expect(info.HostConfig.LogConfig).to.deep.equal({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
  });

  it('tells a follower when the daemon stops, and the daemon cuts the stream after its grace instead of waiting', async () => {
    const { child, exited, stderr } = follow();
    try {
      let streamed = '';
      child.stdout.on('data', (d: Buffer) => (streamed += d.toString()));
      await waitFor(async () => streamed, (s) => s.includes('Scaled to web=2'), 'the latest lines', 30_000);
      const started = Date.now();
      await pier.restart();
      // The API gives streams in flight a 3 s grace, then cuts them.
      expect(Date.now() - started).to.be.lessThan(10_000);
      expect(await exited).to.equal(1);
      expect(stderr()).to.match(/^ ! {5}The Pier API at \S+ cut the stream off \(did the daemon stop or restart\?\)\. Run the command again to go on\.\n$/);
      expect(await logs('-n', '1')).to.have.length(1);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
