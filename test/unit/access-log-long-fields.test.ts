import { expect } from 'chai';
import { DEFAULT_PROXY_SETTINGS } from '../../src/proxy-settings.js';
import { accessLogLine, MAX_LOGGED_FIELD } from '../../src/router/access-log.js';
import type { RequestDone } from '../../src/router/client-connection.js';
import { builtinTemplates, renderMain } from '../../src/router/nginx/nginx-config.js';
import { BUILTIN_PAGES } from '../../src/router/pages.js';

const done = (over: Partial<RequestDone> = {}): RequestDone => ({
  app: 'web',
  host: 'web.localhost',
  method: 'GET',
  path: '/',
  status: 200,
  bytes: 100,
  durationMs: 3,
  upstream: '10.0.0.5:5000',
  requestId: 'req-1',
  ...over,
});

const logged = (d: RequestDone) => JSON.parse(accessLogLine(d)) as { host: string; method: string; path: string };

describe('access log lines of very long requests, alike on both planes', () => {
  it('cuts a host, method or path past 1024 bytes to its first 1024 and an ellipsis', () => {
    const path = `/${'a'.repeat(2999)}`;
    const host = `${'h'.repeat(1500)}.wild.test`;
    const line = logged(done({ path, host, method: 'M'.repeat(2000) }));
    expect(line.path).to.equal(`${path.slice(0, MAX_LOGGED_FIELD)}…`);
    expect(line.host).to.equal(`${host.slice(0, MAX_LOGGED_FIELD)}…`);
    expect(line.method).to.equal(`${'M'.repeat(MAX_LOGGED_FIELD)}…`);
    expect(MAX_LOGGED_FIELD).to.equal(1024);
  });

  it('keeps a value of exactly 1024 bytes whole', () => {
    const path = `/${'b'.repeat(1023)}`;
    expect(logged(done({ path })).path).to.equal(path);
  });

  it('has nginx cut host, method and path at the same length before they reach its log line', () => {
    const main = renderMain(builtinTemplates(), BUILTIN_PAGES, { dir: '/srv/pier/nginx', listen: '[::]:8080', workers: 'auto', trustedProxies: [], keepalive: 256, accessLog: true }, { generation: 1, settings: DEFAULT_PROXY_SETTINGS, apps: [] });
    for (const [variable, source] of [['host', '$host'], ['method', '$request_method'], ['path', '$request_uri']]) {
      expect(main).to.include(`map ${source} $pier_log_${variable} {\n    "~^(?<pier_log_${variable}_head>.{${MAX_LOGGED_FIELD}})." "$pier_log_${variable}_head…";\n    default ${source};\n  }`);
      expect(main).to.include(`"${variable}":"$pier_log_${variable}"`);
    }
  });
});
