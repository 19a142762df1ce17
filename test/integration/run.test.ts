import { spawn } from 'node:child_process';
import http from 'node:http';
import { expect } from 'chai';
import Docker from 'dockerode';
import { waitFor } from '../helpers/http.js';
import { TestPier, run } from '../helpers/test-pier.js';

describe('pier run and run:detached', function () {
  this.timeout(600_000);
  const app = 'runner';
  const shellApp = 'runner-bp';
  const docker = new Docker();
  let pier: TestPier;

  /** One-off containers of this Pier, exited ones too. */
  const oneOffs = async () => docker.listContainers({ all: true, filters: { label: [`pier.instance=${pier.settings.instance}`, 'pier.role=run'] } });

  before(async () => {
    pier = await TestPier.start();
    // The Dockerfile fixture (an image runtime) builds fastest; the Procfile one runs through pier-launch.
    for (const [name, fixture] of [[app, 'dockerfile-app'], [shellApp, 'procfile-app']] as const) {
      const pushed = await pier.push(await pier.fixtureRepo(fixture), name);
      expect(pushed.code, pushed.stderr).to.equal(0);
    }
    const set = await pier.cli(['config:set', app, 'GREETING=bonjour']);
    expect(set.code, set.stderr).to.equal(0);
  });

  after(async () => {
    await pier?.close();
  });

  it("exits with the command's exit code", async () => {
    const result = await pier.cli(['run', app, 'sh', '-c', 'exit 3']);
    expect(result.code, result.stderr).to.equal(3);
  });

  it("prints the command's stdout on stdout and its stderr on stderr", async () => {
    const result = await pier.cli(['run', app, 'sh', '-c', 'echo to-out; echo to-err >&2']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('to-out\n');
    expect(result.stderr).to.equal('to-err\n');
  });

  it('feeds stdin to the command and its end is EOF: echo hi | pier run app cat prints hi', async () => {
    const result = await pier.cli(['run', app, 'cat'], {}, 'hi\n');
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('hi\n');
  });

  it("runs with the app's config vars, PORT, DYNO=run.N and the app's user", async () => {
    const greeting = await pier.cli(['run', app, 'printenv', 'GREETING']);
    expect(greeting.stdout).to.equal('bonjour\n');
    const env = await pier.cli(['run', app, 'sh', '-c', 'echo "$DYNO $PORT $(id -u)"']);
    expect(env.stdout).to.match(/^run\.\d{4} 8080 1000\n$/);
  });

  it('sets -e vars for this run only, over the config', async () => {
    const result = await pier.cli(['run', '-e', 'GREETING=hola', '-e', 'EXTRA=1', app, 'sh', '-c', 'echo "$GREETING $EXTRA"']);
    expect(result.stdout).to.equal('hola 1\n');
    expect((await pier.cli(['run', app, 'printenv', 'GREETING'])).stdout).to.equal('bonjour\n');
  });

  it('passes arguments through as they are: spaces kept, options after APP belong to the command, -- allowed', async () => {
    const words = await pier.cli(['run', app, 'printf', '[%s]\\n', 'a b', '-e']);
    expect(words.stdout).to.equal('[a b]\n[-e]\n');
    const dashed = await pier.cli(['run', app, '--', 'echo', '--no-tty']);
    expect(dashed.stdout).to.equal('--no-tty\n');
  });

  it('relays megabytes both ways without losing a byte', async () => {
    const big = await pier.cli(['run', app, 'sh', '-c', 'head -c 5000000 /dev/zero | tr "\\000" x']);
    expect(big.code, big.stderr).to.equal(0);
    expect(big.stdout.length).to.equal(5_000_000);
    expect(/^x+$/.test(big.stdout)).to.equal(true);
    const input = 'line of input\n'.repeat(200_000);
    const echoed = await pier.cli(['run', app, 'wc', '-c'], {}, input);
    expect(echoed.stdout.trim()).to.equal(String(input.length));
  });

  it('leaves no one-off container behind', async () => {
    expect(await oneOffs()).to.deep.equal([]);
  });

  it('runs buildpack apps through pier-launch: one word is a bash line in /app, and no command starts bash', async () => {
    const line = await pier.cli(['run', shellApp, 'echo "$0 in $PWD as $(id -un)"']);
    expect(line.stdout).to.equal('bash in /app as app\n');
    const shell = await pier.cli(['run', shellApp], {}, 'echo "shell: ${BASH_VERSION%%.*}"; exit 4\n');
    expect(shell.code, shell.stderr).to.equal(4);
    expect(shell.stdout).to.equal('shell: 5\n');
  });

  it('gives a terminal when the CLI has one: a TTY of its size, output and exit code through it', async () => {
    // Docker sizes a terminal only once its process runs (this Docker's API has no size at create): a moment later.
    const cli = pier.cliCommand(['run', app, 'sh', '-c', 'sleep 1; tty; stty size; exit 5']);
    const quoted = [cli.cmd, ...cli.args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
    // script(1) runs the CLI on a pseudo-terminal, as a user's shell would.
    const result = await run('script', ['-qefc', `stty cols 101 rows 31; ${quoted}`, '/dev/null'], { env: cli.env, timeoutMs: 60_000 });
    expect(result.code, result.stdout).to.equal(5);
    // The CLI's raw mode (libuv's) keeps the local terminal's \n → \r\n: the remote \r\n arrives as \r\r\n, which looks the same.
    expect(result.stdout).to.match(/\/dev\/pts\/\d+\r+\n31 101\r+\n/);
  });

  it('kills and removes the container when the client goes away', async () => {
    const cli = pier.cliCommand(['run', app, 'sleep', '300']);
    const child = spawn(cli.cmd, cli.args, { env: cli.env, stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await waitFor(oneOffs, (c) => c.some((x) => x.State === 'running'), 'the one-off running', 60_000);
    } finally {
      child.kill('SIGKILL');
    }
    await waitFor(oneOffs, (c) => c.length === 0, 'no one-off container left', 30_000);
  });

  it('stops the command when the reader of its output goes away: yes | head -2 ends at once', async () => {
    const cli = pier.cliCommand(['run', app, 'yes']);
    const line = [cli.cmd, ...cli.args].map((a) => `'${a}'`).join(' ');
    const piped = await run('bash', ['-c', `${line} | head -2; echo "status \${PIPESTATUS[*]}"`], { env: cli.env, timeoutMs: 60_000 });
    expect(piped.stdout).to.equal('y\ny\nstatus 141 0\n');
    // Output nobody reads would otherwise block the command, and Docker's kill with it.
    await waitFor(oneOffs, (c) => c.length === 0, 'no one-off container left', 30_000);
  });

  it('tells an attached client when the daemon shuts down, and stops its command', async () => {
    const cli = pier.cliCommand(['run', app, 'sh', '-c', 'echo up; sleep 300']);
    const child = spawn(cli.cmd, cli.args, { env: cli.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitFor(async () => stdout, (s) => s.includes('up'), 'the command running', 60_000);
      await pier.restart();
      expect(await exited).to.equal(1);
      expect(stderr).to.contain(' !     The Pier daemon is shutting down; the command was stopped.');
      expect(await oneOffs()).to.deep.equal([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('exits 127 with the reason when the program does not exist, as a shell does', async () => {
    const result = await pier.cli(['run', app, 'no-such-program', 'x']);
    expect(result.code).to.equal(127);
    expect(result.stderr).to.contain('no-such-program').and.contain('No such file or directory');
  });

  it('refuses an unknown app and an app with no release, saying what to do, with exit 1', async () => {
    const unknown = await pier.cli(['run', 'nope', 'ls']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.equal(' !     App nope does not exist. List apps with: pier apps:list\n');
    expect((await pier.cli(['apps:create', 'empty'])).code).to.equal(0);
    const undeployed = await pier.cli(['run', 'empty', 'ls']);
    expect(undeployed.code).to.equal(1);
    expect(undeployed.stderr).to.equal(' !     empty has no release yet, so there is nothing to run. Deploy it first: git push\n');
  });

  it('answers an upgrade without a valid token with 401 and closes the connection', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token']) {
      const answer = await new Promise<{ status: number; body: string; closed: boolean }>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port: pier.settings.apiPort,
          method: 'POST',
          path: `/api/apps/${app}/run`,
          headers: { connection: 'Upgrade', upgrade: 'pier-run', 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        });
        req.on('upgrade', () => reject(new Error('upgraded without a token')));
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => res.socket.once('close', () => resolve({ status: res.statusCode ?? 0, body, closed: true })));
        });
        req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
        req.on('error', reject);
        req.end(JSON.stringify({ command: ['ls'] }));
      });
      expect(answer.status).to.equal(401);
      expect(JSON.parse(answer.body).error).to.contain('Invalid or missing API token');
      expect(answer.closed).to.equal(true);
    }
    expect(await oneOffs()).to.deep.equal([]);
  });

  it("run:detached returns at once; its output goes to the app's log and its container goes when it exits", async () => {
    const started = await pier.cli(['run:detached', app, 'sh', '-c', 'echo detached-hello; sleep 2; echo detached-bye']);
    expect(started.code, started.stderr).to.equal(0);
    const name = /detached as (run\.\d{4})\n/.exec(started.stdout)?.[1];
    expect(started.stdout).to.contain("-----> Running `sh -c 'echo detached-hello; sleep 2; echo detached-bye'` detached as run.");
    expect(started.stdout).to.contain(`       Its output goes to the app's log: pier logs ${app} -p run`);
    expect((await oneOffs()).map((c) => c.State)).to.deep.equal(['running']);
    await waitFor(oneOffs, (c) => c.length === 0, 'the detached container gone', 30_000);
    const logs = await waitFor(
      async () => (await pier.cli(['logs', app, '-p', 'run'])).stdout,
      (text) => text.includes('detached-bye'),
      'the detached output in pier logs',
      10_000,
    );
    const lines = logs.split('\n').filter((l) => l.includes(`app[${name}]`));
    expect(lines.map((l) => l.replace(/^.*?: /, ''))).to.deep.equal(['detached-hello', 'detached-bye']);
    const events = (await pier.cli(['logs', app, '-p', 'pier'])).stdout;
    expect(events).to.contain(`${name} exited with code 0`);
  });

  it('run:detached needs a command', async () => {
    const result = await pier.cli(['run:detached', app]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain("missing required argument 'command'");
  });
});
