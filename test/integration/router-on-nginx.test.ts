import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { onNginx } from '../helpers/router.js';
import { repoRoot } from '../helpers/test-pier.js';

/** The router's promises, checked on both planes: these suites run on the built-in router in this run, and on nginx here. */
const SUITES = ['test/integration/router.test.ts', 'test/integration/router-protocol.test.ts'];
/** They take about 30 s on nginx (each route change is a reload); past this the run is stopped. */
const RUN_TIMEOUT_MS = 240_000;

describe('the router suites on the nginx data plane (PIER_TEST_PLANE=nginx)', function () {
  this.timeout(RUN_TIMEOUT_MS + 30_000);

  // A run that is on nginx already runs the suites themselves.
  (onNginx ? it.skip : it)(`${SUITES.map((s) => path.basename(s)).join(' and ')} pass on nginx, built-in-only tests skipped with their reason`, async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'node_modules/mocha/bin/mocha.js'), '--timeout', '300000', '--reporter', 'dot', ...SUITES], {
      cwd: repoRoot,
      env: { ...process.env, PIER_TEST_PLANE: 'nginx' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), RUN_TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    expect(code, output).to.equal(0);
    expect(output).to.match(/\d+ passing/);
  });
});
