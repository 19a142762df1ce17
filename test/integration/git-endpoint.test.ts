import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { TestPier, commitAll, run } from '../helpers/test-pier.js';

function pktLine(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}

/** A receive-pack request body that creates refs/heads/main at `commit`, carrying a real pack. */
async function receivePackBody(repo: string, commit: string): Promise<Buffer> {
  const pack = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('git', ['pack-objects', '--stdout', '--revs'], { cwd: repo });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`pack-objects exit ${code}`))));
    child.stdin.end(`${commit}\n`);
  });
  const zero = '0'.repeat(40);
  return Buffer.concat([pktLine(`${zero} ${commit} refs/heads/main\0report-status\n`), Buffer.from('0000'), pack]);
}

describe('the git endpoint', function () {
  this.timeout(120_000);
  let pier: TestPier;
  let repo: string;
  let commit: string;

  before(async () => {
    pier = await TestPier.start();
    repo = await pier.tempDir('pier-git-');
    await writeFile(path.join(repo, 'README'), 'no buildpack matches this\n');
    await commitAll(repo, 'initial');
    commit = (await run('git', ['rev-parse', 'HEAD'], { cwd: repo })).stdout.trim();
  });

  after(async () => {
    await pier?.close();
  });

  const refsOf = async (app: string) => (await run('git', ['--git-dir', path.join(pier.settings.reposDir, `${app}.git`), 'for-each-ref'])).stdout;

  it('refuses an unauthenticated receive-pack POST carrying a valid pack, and no ref changes', async () => {
    expect((await pier.cli(['apps:create', 'guarded'])).code).to.equal(0);
    const body = await receivePackBody(repo, commit);
    const before = await refsOf('guarded');
    for (const authorization of [undefined, `Basic ${Buffer.from('pier:not-the-token').toString('base64')}`]) {
      const res = await fetch(`${pier.apiUrl}/guarded.git/git-receive-pack`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-git-receive-pack-request', ...(authorization ? { authorization } : {}) },
        body: new Uint8Array(body),
      });
      expect(res.status).to.equal(401);
      expect(await res.text()).to.contain('valid API token');
    }
    expect(await refsOf('guarded')).to.equal(before);
  });

  it('processes the same crafted POST when authenticated, so the refusal above is the auth check', async () => {
    const res = await fetch(`${pier.apiUrl}/guarded.git/git-receive-pack`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-git-receive-pack-request',
        authorization: `Basic ${Buffer.from(`pier:${pier.token}`).toString('base64')}`,
      },
      body: new Uint8Array(await receivePackBody(repo, commit)),
    });
    expect(res.status).to.equal(200);
    const text = await res.text();
    expect(text).to.contain('unpack ok');
    // The hook declined (no buildpack matches a README), so the ref is still absent.
    expect(text).to.contain('pre-receive hook declined');
    expect(await refsOf('guarded')).to.equal('');
  });

  it('refuses git clients with a wrong token', async () => {
    const pushed = await pier.push(repo, 'guarded', 'HEAD:main', 'wrong-token');
    expect(pushed.code).to.not.equal(0);
    expect(pushed.stderr).to.contain('Authentication failed');
  });

  it('refuses a push to a branch that does not deploy, naming the branches that do', async () => {
    const pushed = await pier.push(repo, 'guarded', 'HEAD:feature');
    expect(pushed.code).to.not.equal(0);
    expect(pushed.stderr).to.contain('only the main and master branches deploy');
    expect(await refsOf('guarded')).to.equal('');
  });

  it('creates an unknown app on its first push, as Dokku does, and explains a build with no matching buildpack', async () => {
    const pushed = await pier.push(repo, 'made-by-push');
    expect(pushed.code).to.not.equal(0);
    expect(pushed.stderr).to.contain('no buildpack detected this app');
    expect(pushed.stderr).to.contain('the app keeps running its previous release');
    const list = await pier.cli(['apps:list', '--json']);
    expect((JSON.parse(list.stdout) as Array<{ name: string }>).map((a) => a.name)).to.include('made-by-push');
  });

  it('answers a fetch of an unknown app with the command that creates it', async () => {
    const res = await fetch(`${pier.apiUrl}/nosuchapp.git/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Basic ${Buffer.from(`pier:${pier.token}`).toString('base64')}` },
    });
    expect(res.status).to.equal(404);
    expect(await res.text()).to.contain('pier apps:create nosuchapp');
  });
});
