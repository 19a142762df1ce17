import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { DEFAULT_PROXY_SETTINGS } from '../../src/proxy-settings.js';
import { templateSchema } from '../../src/proxy-template.js';
import { locateReason, renderAppWith, SAMPLE_UPSTREAM, syntaxProblem, templateVariants, unclosedBlock, withBlocks } from '../../src/router/nginx/app-template.js';
import { builtinTemplates, renderApp, templatesDir, type PlaneLayout } from '../../src/router/nginx/nginx-config.js';
import { BUILTIN_PAGES } from '../../src/router/pages.js';
import type { AppSnapshot } from '../../src/router/route-table.js';

const layout: PlaneLayout = { dir: '/srv/pier/nginx', listen: '[::]:8080', workers: 'auto', trustedProxies: [], keepalive: 256 };
const templates = builtinTemplates();
const snapshot: AppSnapshot = { app: 'web', hosts: ['web.example.com'], upstreams: ['172.18.0.5:5000'], settings: DEFAULT_PROXY_SETTINGS, maintenance: undefined };
const tls = { file: '/srv/pier/nginx/certs/web.pem', names: ['web.example.com'] };

describe("an app's own nginx template", () => {
  it('renders the app through its own template, with the same view as the built-in one', () => {
    const own = '# {{app}} {{upstreamName}}{{#each upstreams}} {{this}}{{/each}} {{#each servers}}{{listen}}{{/each}}\n';
    expect(renderAppWith(templates, own, BUILTIN_PAGES, layout, snapshot, undefined)).to.deep.equal({ config: '# web pier_app_web 172.18.0.5:5000 [::]:8080\n' });
  });

  it('renders with the built-in template when the app has none', () => {
    expect(renderAppWith(templates, undefined, BUILTIN_PAGES, layout, snapshot, undefined)).to.deep.equal({ config: renderApp(templates, BUILTIN_PAGES, layout, snapshot, undefined) });
  });

  it('falls back to the built-in template when its own no longer renders, with the reason in the template\'s terms', () => {
    const rendered = renderAppWith(templates, 'server {\n  listen {{port}};\n}\n', BUILTIN_PAGES, layout, snapshot, undefined);
    expect(rendered.config).to.equal(renderApp(templates, BUILTIN_PAGES, layout, snapshot, undefined));
    expect(rendered.problem).to.equal('"port" is not in the view (line 2, column 12); the built-in template names every field the view has');
  });

  it('names the block a template leaves open and the line it opens on', () => {
    const source = '{{#each servers}}\nserver {\n{{#if tls}}\n  ssl on;\n{{/each}}\n';
    expect(unclosedBlock('{{#each servers}}\n{{#if tls}}x\n{{/if}}\n')).to.deep.equal({ name: 'each', line: 1 });
    expect(unclosedBlock('{{#if a}}{{/if}}{{^b}}{{/b}}')).to.equal(undefined);
    expect(syntaxProblem('{{#each servers}}\n{{listen}}\n')).to.match(/^the \{\{#each\}\} opened on line 1 is never closed with \{\{\/each\}\} \(parse error on line 3 near/);
    expect(syntaxProblem(source)).to.equal('the {{#if}} opened on line 3 is closed with {{/each}}');
    expect(syntaxProblem(readFileSync(`${templatesDir}/app.conf.hbs`, 'utf8'))).to.equal(undefined);
  });

  it('is checked as the app is now and in each state it can change to without a new template', () => {
    const labels = (s: AppSnapshot, t: typeof tls | undefined) => templateVariants(s, t, { tls: { file: '/tmp/sample.pem', names: s.hosts }, readable: false }).map((v) => [v.label, v.nginx]);
    expect(labels(snapshot, tls)).to.deep.equal([
      ['as the app is now', true],
      ['with no running web instance', true],
      ['in maintenance mode', true],
      ['without its certificate', true],
    ]);
    expect(labels({ ...snapshot, upstreams: [], maintenance: { retryAfterSec: 30 } }, undefined)).to.deep.equal([
      ['as the app is now', true],
      ['with web instances running', true],
      ['out of maintenance mode', true],
      // A sample certificate nginx cannot read (no openssl to make it): handlebars alone checks that state.
      ['with a certificate', false],
    ]);
    const [, running] = templateVariants({ ...snapshot, upstreams: [] }, undefined, undefined);
    expect(running!.snapshot.upstreams).to.deep.equal([SAMPLE_UPSTREAM]);
    expect(templateVariants(snapshot, undefined, undefined)).to.have.length(3);
  });

  it('knows where the app\'s blocks start in the whole configuration', () => {
    const main = (apps: string[]) => `http {\n${apps.join('\n')}\n}\n`;
    const { config, firstLine } = withBlocks(main, { before: ['# a\nserver a;'], after: ['# c'] }, '# web\nbogus on;');
    expect(config).to.equal('http {\n# a\nserver a;\n# web\nbogus on;\n# c\n}\n');
    expect(config.split('\n')[firstLine - 1]).to.equal('# web');
  });

  it("points nginx's reasons into the template: its own line when it has the line verbatim, else the rendered one", () => {
    const file = '/tmp/check/nginx.conf';
    const config = 'http {\n# web\nserver {\n  bogus_directive on;\n  listen 10.0.0.1:80 bogus;\n}\n}\n';
    const blocks = '# web\nserver {\n  bogus_directive on;\n  listen 10.0.0.1:80 bogus;\n}';
    const source = '# {{app}}\nserver {\n    bogus_directive on;\n  listen {{listen}} bogus;\n}\n';
    expect(locateReason(`unknown directive "bogus_directive" in ${file}:4`, file, config, 2, blocks, source)).to.equal('unknown directive "bogus_directive" at line 3 of the template ("bogus_directive on;")');
    expect(locateReason(`invalid parameter "bogus" in ${file}:5`, file, config, 2, blocks, source)).to.equal('invalid parameter "bogus" at line 4 of what the template rendered ("listen 10.0.0.1:80 bogus;")');
    expect(locateReason(`unexpected "}" in ${file}:7`, file, config, 2, blocks, source)).to.equal('unexpected "}" at line 7 of the whole configuration, outside the app\'s blocks ("}")');
    expect(locateReason(`open() "${file}" failed`, file, config, 2, blocks, source)).to.equal('open() "the configuration" failed');
  });

  it('is refused empty or over 64 KiB, before it reaches the daemon', () => {
    expect(templateSchema.safeParse({ template: '# {{app}}\n' }).success).to.equal(true);
    expect(templateSchema.safeParse({ template: ' \n' }).error?.issues[0]?.message).to.match(/^the template is empty/);
    expect(templateSchema.safeParse({ template: 'x'.repeat(64 * 1024 + 1) }).error?.issues[0]?.message).to.equal('the template is larger than 64 KiB');
    expect(templateSchema.safeParse({}).error?.issues[0]?.message).to.equal('the template is missing');
  });
});
