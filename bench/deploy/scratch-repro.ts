import { readFile, writeFile, rm, appendFile } from 'node:fs/promises';
import path from 'node:path';
import { TestPier, commitAll, run } from '../../test/helpers/test-pier.js';
const pier = await TestPier.start();
const repo = await pier.fixtureRepo('node-app');
const hook = path.join(pier.settings.hooksDir, 'pre-receive');
const orig = await readFile(hook, 'utf8');
await writeFile(hook, orig.replace('#!/bin/sh\n', `#!/bin/sh\necho "hook start $(date +%s.%N)" >> /tmp/scratch-hooklog\n`).replace(/^exec (.*)$/m, '$1\nrc=$?\necho "hook exit $rc $(date +%s.%N)" >> /tmp/scratch-hooklog\nexit $rc'));
console.log(await readFile(hook, 'utf8'));
try {
  await pier.cli(['apps:create', 'r']);
  let t = Date.now();
  let r = await pier.push(repo, 'r');
  console.log('cold', r.code, Date.now() - t);
  const server = path.join(repo, 'server.js');
  const original = await readFile(server, 'utf8');
  for (let i = 1; i <= 10; i++) {
    await writeFile(server, `${original}// bench redeploy ${i} ${Date.now()}\n`);
    await commitAll(repo, `r${i}`);
    t = Date.now();
    await appendFile('/tmp/scratch-hooklog', `push ${i} at ${Date.now() / 1000}\n`);
    r = await run('git', ['push', '--force', pier.gitUrl('r'), 'HEAD:main'], { cwd: repo, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    const ms = Date.now() - t;
    console.log('warm', i, r.code, ms);
    if (ms < 3000 || !r.stderr.includes('Deploying')) { console.log(r.stdout, r.stderr.split('\n').filter(l => !/packet: +sideband< \\2|PACK/.test(l)).slice(0, 200).join('\n')); }
    console.log('sources:', (await run('ls', ['-la', pier.settings.sourcesDir])).stdout);
    const builds = await pier.cli(['apps:info', 'r', '--json']);
    console.log(JSON.parse(builds.stdout).release);
  }
} finally {
  await pier.close();
  await rm(repo, { recursive: true, force: true });
}
