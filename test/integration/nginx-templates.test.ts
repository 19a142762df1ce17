import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/log.js';
import { AppTemplateChecker, builtinAppTemplateFile } from '../../src/router/nginx/template-check.js';
import { createState, type State } from '../../src/state/index.js';
import { testCa } from '../helpers/certs.js';
import { close, get, listen, waitFor, type Reply } from '../helpers/http.js';
import { connectTestRedis, testRedisUrl } from '../helpers/redis.js';
import { TestPier } from '../helpers/test-pier.js';

/**
 * `pier proxy:template APP FILE`: an app's own nginx template (Dokku's nginx.conf.sigil), checked with
 * handlebars and nginx -t before it is stored, served by the nginx plane after a reload. A whole test
 * daemon, real nginx and Redis; upstreams are Node servers on loopback.
 */
describe('per-app nginx templates: proxy:template (real nginx, Redis, CLI)', function () {
  this.timeout(120_000);

  let pier: TestPier;
  let redis: Redis;
  let state: State;
  let builtin: string;
  const logFile = path.join(os.tmpdir(), `pier-nginx-templates-${randomBytes(4).toString('hex')}.log`);
  const servers: net.Server[] = [];

  async function upstream(name: string): Promise<string> {
    const server = http.createServer((_req, res) => res.end(name));
    servers.push(server);
    return `127.0.0.1:${await listen(server)}`;
  }

  const request = (app: string): Promise<Reply> => get(pier.settings.httpPort, `${app}.localhost`, { agent: false });

  async function deploy(app: string): Promise<void> {
    await state.apps.create(app);
    const upstreams = [await upstream(app)];
    await state.routes.set({ app, upstreams });
    expect(await state.routes.waitApplied(app, upstreams, 5000), `a router to serve ${app}`).to.equal(true);
  }

  /** The built-in template with `line` added first in `location /`. */
  const withLocationLine = (line: string) => builtin.replaceAll('  location / {\n', `  location / {\n    ${line}\n`);

  function httpsGet(host: string, ca: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: pier.settings.httpsPort, servername: host, headers: { host }, ca, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.setTimeout(5000, () => req.destroy(new Error(`no HTTPS answer within 5 s for ${host}`)));
      req.on('error', reject);
    });
  }

  async function templateFile(text: string): Promise<string> {
    const file = path.join(await pier.tempDir(), 'app.conf.hbs');
    await writeFile(file, text);
    return file;
  }

  const customHeader = (app: string) => waitFor(() => request(app), (r) => r.status === 200, `${app} to answer`, 5000).then((r) => r.headers['x-custom']);

  before(async () => {
    pier = await TestPier.start({ logFile });
    redis = await connectTestRedis(testRedisUrl);
    state = createState(redis, pier.settings.instance);
    builtin = await readFile(builtinAppTemplateFile, 'utf8');
    await deploy('web');
    await deploy('other');
  });

  after(async () => {
    await pier?.close();
    await redis?.quit();
    for (const s of servers) await close(s);
    await rm(logFile, { force: true });
  });

  it('says an app uses the built-in template, and where it is; --json gives it', async () => {
    const shown = await pier.cli(['proxy:template', 'web']);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout).to.include('=====> web nginx template: the built-in one').and.include(`File:  ${builtinAppTemplateFile}`);
    const json = JSON.parse((await pier.cli(['proxy:template', 'web', '--json'])).stdout);
    expect(json).to.deep.equal({ app: 'web', source: 'builtin', template: builtin, file: builtinAppTemplateFile });
  });

  it('takes a template on the built-in plane and serves it once nginx does, for that app only', async () => {
    const file = await templateFile(withLocationLine('add_header X-Custom yes always;'));
    const set = await pier.cli(['proxy:template', 'web', file]);
    expect(set.code, set.stderr).to.equal(0);
    expect(set.stdout).to.include(`-----> Checking ${file} as web's nginx template`);
    expect(set.stdout).to.include('Renders as the app is now, with no running web instance, in maintenance mode, with a certificate; nginx -t accepts it');
    expect(set.stdout).to.include("-----> web's nginx template set; it is used once nginx serves HTTP (pier proxy:type nginx)");
    expect(await customHeader('web'), 'the built-in router uses no template').to.equal(undefined);

    const switched = await pier.cli(['proxy:type', 'nginx']);
    expect(switched.stdout, switched.stderr).to.include('nginx serves HTTP now');
    expect(await customHeader('web')).to.equal('yes');
    expect(await customHeader('other')).to.equal(undefined);
    expect((await request('web')).body).to.equal('web');
  });

  it('shows the template in force: the app\'s own, as given; --json says its source', async () => {
    const shown = await pier.cli(['proxy:template', 'web']);
    expect(shown.stdout).to.include("=====> web nginx template: its own (pier proxy:template:reset web goes back to the built-in one)");
    expect(shown.stdout).to.include('    add_header X-Custom yes always;');
    const json = JSON.parse((await pier.cli(['proxy:template', 'web', '--json'])).stdout);
    expect(json).to.deep.equal({ app: 'web', source: 'app', template: withLocationLine('add_header X-Custom yes always;') });
  });

  /** proxy:template with this text exits 1 and says why; the previous template keeps serving. */
  async function refused(text: string): Promise<string> {
    const result = await pier.cli(['proxy:template', 'web', await templateFile(text)]);
    expect(result.code, result.stdout).to.equal(1);
    expect(result.stderr).to.match(/^ ! {5}web's nginx template was refused: /).and.include('Fix it and run pier proxy:template web FILE again; nothing was changed.');
    expect(await customHeader('web'), 'the previous template').to.equal('yes');
    expect(JSON.parse((await pier.cli(['proxy:template', 'web', '--json'])).stdout).template).to.include('X-Custom yes');
    return result.stderr;
  }

  it('refuses a template with a handlebars error (an unclosed block), naming its line; the previous one keeps serving', async () => {
    const stderr = await refused(`${builtin}{{#if upstreams.length}}\nserver_tokens off;\n`);
    expect(stderr).to.include(`it does not parse: the {{#if}} opened on line ${builtin.split('\n').length} is never closed with {{/if}} (parse error on line`);
  });

  it('refuses a template naming a variable the view lacks (strict), even in a branch only another state of the app renders', async () => {
    const text = builtin.replace('    return 503;\n', '    return 503 {{fallbackPage}};\n');
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('fallbackPage'));
    const stderr = await refused(text);
    expect(stderr).to.include(`it does not render with no running web instance: "fallbackPage" is not in the view (line ${line + 1}, column ${lines[line]!.indexOf('fallbackPage') + 1})`);
  });

  it('refuses a template nginx -t rejects, naming the template\'s line', async () => {
    const text = withLocationLine('bogus_directive on;');
    const lines = text.split('\n').flatMap((l, i) => (l.includes('bogus_directive') ? [i + 1] : []));
    const stderr = await refused(text);
    expect(stderr).to.include(`nginx -t refused the configuration as the app is now: unknown directive "bogus_directive" at line ${lines.join(', ')} of the template ("bogus_directive on;")`);
  });

  it('checks the HTTPS server a template renders: with the app\'s certificate, or a throwaway one for an app without', async () => {
    const text = builtin.replace('  ssl_certificate_key {{tls.file}};\n', '  ssl_certificate_key {{tls.file}};\n  ssl_bogus on;\n');
    const line = text.split('\n').indexOf('  ssl_bogus on;') + 1;
    const stderr = await refused(text);
    expect(stderr).to.include(`nginx -t refused the configuration with a certificate: unknown directive "ssl_bogus" at line ${line} of the template ("ssl_bogus on;")`);

    const ca = await testCa(await pier.tempDir('pier-template-ca-'));
    const cert = await ca.issue(['other.localhost']);
    expect((await pier.cli(['certs:add', 'other', cert.certFile, cert.keyFile])).code).to.equal(0);
    const set = await pier.cli(['proxy:template', 'other', await templateFile(withLocationLine('add_header X-Custom tls always;'))]);
    expect(set.stdout, set.stderr).to.include('Renders as the app is now, with no running web instance, in maintenance mode, without its certificate; nginx -t accepts it');
    const secure = await waitFor(() => httpsGet('other.localhost', ca.caPem), (r) => r.headers['x-custom'] === 'tls', 'the template over HTTPS', 5000);
    expect([secure.status, secure.body]).to.deep.equal([200, 'other']);
  });

  it('refuses an empty file before asking the daemon', async () => {
    const result = await pier.cli(['proxy:template', 'web', await templateFile('  \n')]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('the template is empty');
  });

  it('serves a stored template that fails at reload with the built-in one, says so in proxy:type, and leaves other apps alone', async () => {
    await pier.cli(['proxy:template', 'other', await templateFile(withLocationLine('add_header X-Custom other always;'))]);
    expect(await waitFor(() => customHeader('other'), (h) => h === 'other', 'other\'s template', 5000)).to.equal('other');
    // As after an upgrade that changed the view: stored, so it passed its check then, but it no longer renders.
    await state.proxy.setTemplate('web', withLocationLine('add_header X-Gone {{removedField}} always;'));
    const report = await waitFor(() => pier.cli(['proxy:type']), (r) => r.stdout.includes('Error:'), 'the fallback to be reported', 5000);
    expect(report.stdout).to.include(`web's nginx template failed ("removedField" is not in the view`).and.include('so the built-in one serves it: fix it (pier proxy:template web FILE) or reset it (pier proxy:template:reset web)');
    expect(report.stdout).to.include('Serving:  nginx');
    const web = await request('web');
    expect([web.status, web.body, web.headers['x-custom']]).to.deep.equal([200, 'web', undefined]);
    expect(await customHeader('other')).to.equal('other');
    const logged = await waitFor(() => readFile(logFile, 'utf8'), (t) => t.includes('the built-in one serves it'), 'the daemon log line', 5000);
    const line = JSON.parse(logged.split('\n').find((l) => l.includes('the built-in one serves it'))!);
    expect([line.app, line.msg]).to.deep.equal(['web', "the app's own nginx template failed; the built-in one serves it"]);
    expect(line.problem).to.match(/^"removedField" is not in the view/);
  });

  it('proxy:template:reset goes back to the built-in template', async () => {
    await state.proxy.setTemplate('web', withLocationLine('add_header X-Custom yes always;'));
    expect(await waitFor(() => customHeader('web'), (h) => h === 'yes', 'web\'s template', 5000)).to.equal('yes');
    const reset = await pier.cli(['proxy:template:reset', 'web']);
    expect(reset.code, reset.stderr).to.equal(0);
    expect(reset.stdout).to.equal("-----> web's nginx template reset to the built-in one; nginx serves with it now\n");
    expect(await waitFor(() => customHeader('web'), (h) => h === undefined, 'the built-in template', 5000)).to.equal(undefined);
    expect((await pier.cli(['proxy:type'])).stdout).to.not.include('Error:');
    expect((await pier.cli(['proxy:template:reset', 'web'])).stdout).to.equal('-----> web already uses the built-in nginx template\n');
  });

  it('keeps the template when the app is renamed and removes it when the app is destroyed', async () => {
    expect((await pier.cli(['apps:create', 'blog'])).code).to.equal(0);
    const file = await templateFile(withLocationLine('add_header X-Custom blog always;'));
    expect((await pier.cli(['proxy:template', 'blog', file])).code).to.equal(0);
    const renamed = await pier.cli(['apps:rename', 'blog', 'journal']);
    expect(renamed.code, renamed.stderr).to.equal(0);
    expect(JSON.parse((await pier.cli(['proxy:template', 'journal', '--json'])).stdout).source).to.equal('app');
    const destroyed = await pier.cli(['apps:destroy', 'journal', '--force']);
    expect(destroyed.code, destroyed.stderr).to.equal(0);
    expect(await state.proxy.template('journal')).to.equal(undefined);
    expect((await pier.cli(['apps:create', 'journal'])).code).to.equal(0);
    expect(JSON.parse((await pier.cli(['proxy:template', 'journal', '--json'])).stdout).source).to.equal('builtin');
  });

  it('refuses to check a template without nginx, and says how to install it', async () => {
    const checker = new AppTemplateChecker({ state, settings: pier.settings, log: createLogger('silent'), binary: '/nonexistent/nginx' });
    let problem = '';
    await checker.check('web', builtin).catch((err: Error) => (problem = err.message));
    expect(problem).to.include('nginx is needed to check the template, and /nonexistent/nginx could not run: install it (PIER_INSTALL_NGINX=1 ./install.sh)');
  });
});
