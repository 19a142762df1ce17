import { expect } from 'chai';
import { DEFAULT_PROXY_SETTINGS, effectiveProxySettings } from '../../src/proxy-settings.js';
import { builtinTemplates, compileTemplate, nginxPageString, renderApp, renderMain, tlsServerNames, type PlaneLayout } from '../../src/router/nginx/nginx-config.js';
import { BUILTIN_PAGES } from '../../src/router/pages.js';

const layout: PlaneLayout = { dir: '/srv/pier/nginx', listen: '[::]:8080', workers: 'auto', trustedProxies: ['10.0.0.0/8'], keepalive: 256 };
const templates = builtinTemplates();
const app = (over: Partial<Parameters<typeof renderApp>[3]> = {}) =>
  renderApp(templates, BUILTIN_PAGES, layout, { app: 'my-app', hosts: ['my-app.example.com', '*.wild.test'], upstreams: ['172.18.0.5:5000', '172.18.0.6:5000'], settings: DEFAULT_PROXY_SETTINGS, maintenance: undefined, ...over });

describe('nginx configuration rendering', () => {
  it('renders an app as an upstream with a keep-alive pool and a server for every host', () => {
    const conf = app();
    expect(conf).to.include('upstream pier_app_my_app {').and.include('server 172.18.0.5:5000 max_fails=1 fail_timeout=2s;').and.include('server 172.18.0.6:5000');
    expect(conf).to.include('keepalive 256;');
    expect(conf).to.include('server_name my-app.example.com *.wild.test;');
    expect(conf).to.include('listen [::]:8080;');
    expect(conf).to.include('proxy_pass http://pier_app_my_app;');
    expect(conf).to.not.include('least_conn');
  });

  it('maps the proxy settings to nginx directives', () => {
    const settings = effectiveProxySettings({ 'connect-timeout': '2s', 'response-timeout': '90s', 'idle-timeout': '70s', 'max-body-size': '5m', 'load-balancing': 'least-connections' }, {});
    const conf = app({ settings });
    expect(conf).to.include('proxy_connect_timeout 2000ms;').and.include('proxy_read_timeout 90000ms;');
    expect(conf).to.include('keepalive_timeout 70s;').and.include(`client_max_body_size ${5 * 1024 * 1024};`);
    expect(conf).to.include('least_conn;');
  });

  it('answers 503 itself for an app without instances, with no upstream block', () => {
    const conf = app({ upstreams: [] });
    expect(conf).to.not.include('upstream ');
    expect(conf).to.include('return 503;');
  });

  it('answers 503 with the maintenance page and Retry-After while maintenance mode is on', () => {
    const conf = app({ maintenance: { retryAfterSec: 120 } });
    expect(conf).to.include('add_header Retry-After 120 always;').and.include('Down for Maintenance');
    expect(conf.split('location / {')[1]).to.not.include('proxy_pass');
  });

  it('leaves out host names and upstreams nginx would read as something else', () => {
    const conf = app({ hosts: ['ok.test', '~^regex$', 'evil.test; include /etc/passwd'], upstreams: ['10.0.0.1:80', '10.0.0.2:80; down'] });
    expect(conf).to.include('server_name ok.test;');
    expect(conf).to.not.include('regex').and.not.include('passwd').and.not.include('down');
  });

  it('serves the pages from the same templates as the built-in router, uncached', () => {
    const conf = app();
    expect(conf).to.include('location @pier_502 {').and.include('add_header Cache-Control no-store always;');
    expect(conf).to.include("return 502 '").and.include('502 Bad Gateway');
    expect(conf).to.include('${pier_page_host}');
  });

  it('quotes pages for nginx: quotes and backslashes escaped, $ kept literal', () => {
    expect(nginxPageString(String.raw`it's $5 \ done`)).to.equal(String.raw`'it\'s ${'$'}{pier_dollar}5 \\ done'`);
  });

  it('renders the main configuration: pid, logs and temp files under the plane folder, the inherited listener, the control socket', () => {
    const conf = renderMain(templates, BUILTIN_PAGES, layout, { generation: 7, settings: DEFAULT_PROXY_SETTINGS, apps: ['# app blocks'] });
    expect(conf).to.include('pid /srv/pier/nginx/nginx.pid;').and.include('client_body_temp_path /srv/pier/nginx/temp/body;');
    expect(conf).to.include('listen [::]:8080 ipv6only=off default_server;');
    expect(conf).to.include('listen unix:/srv/pier/nginx/control.sock;').and.include('return 200 "7";');
    expect(conf).to.include('10.0.0.0/8 1;');
    expect(conf).to.include('# app blocks');
    const v4 = renderMain(templates, BUILTIN_PAGES, { ...layout, listen: '0.0.0.0:80' }, { generation: 1, settings: DEFAULT_PROXY_SETTINGS, apps: [] });
    expect(v4).to.include('listen 0.0.0.0:80 default_server;');
  });

  it('compiles templates strictly: a variable the view lacks is an error, not an empty directive', () => {
    expect(() => compileTemplate('listen {{port}};')({})).to.throw(/"port" not defined/);
    expect(compileTemplate('return 200 "{{body}}";')({ body: '<b>&' })).to.equal('return 200 "<b>&";');
  });

  it('serves HTTPS only for the hosts the certificate names; a certificate wildcard covers one label, as TLS does', () => {
    expect(tlsServerNames(['shop.example.com'], ['shop.example.com'])).to.deep.equal({ serverNames: ['shop.example.com'], pattern: '^(shop\\.example\\.com)$' });
    const blog = tlsServerNames(['blog.example.com', '*.blog.test'], ['blog.example.com', '*.blog.test', 'www.blog.test', 'other.test']);
    expect(blog!.serverNames).to.deep.equal(['blog.example.com', 'www.blog.test', '~^[a-z0-9-]+\\.blog\\.test$']);
    const redirect = new RegExp(blog!.pattern);
    for (const host of ['blog.example.com', 'www.blog.test', 'eu.blog.test']) expect(redirect.test(host), host).to.equal(true);
    for (const host of ['a.b.blog.test', 'other.test', 'blog.test']) expect(redirect.test(host), host).to.equal(false);
    // A plain host under a wildcard certificate; and a certificate for none of the app's hosts.
    expect(tlsServerNames(['shop.localhost'], ['*.localhost'])!.serverNames).to.deep.equal(['shop.localhost']);
    expect(tlsServerNames(['shop.localhost'], ['blog.localhost'])).to.equal(undefined);
  });

  it('renders an HTTPS server with the certificate file, HSTS on HTTPS responses and the https-only redirect on HTTP', () => {
    const tlsLayout: PlaneLayout = { ...layout, https: { listen: '[::]:8443', port: 8443 } };
    const settings = effectiveProxySettings({ 'https-only': 'true', hsts: 'true', 'hsts-max-age': '600' }, {});
    const conf = renderApp(templates, BUILTIN_PAGES, tlsLayout, { app: 'shop', hosts: ['shop.example.com'], upstreams: ['10.0.0.1:80'], settings, maintenance: undefined }, { file: '/srv/pier/nginx/certs/shop-ab.pem', names: ['shop.example.com'] });
    const [plain, secure] = conf.split('\nserver {').slice(1);
    expect(plain).to.include('listen [::]:8080;').and.include('if ($host ~ "^(shop\\.example\\.com)$") {').and.include('return 308 https://$host:8443$request_uri;');
    expect(plain).to.not.include('Strict-Transport-Security').and.not.include('ssl_certificate');
    expect(secure).to.include('listen [::]:8443 ssl;').and.include('ssl_certificate /srv/pier/nginx/certs/shop-ab.pem;').and.include('ssl_certificate_key /srv/pier/nginx/certs/shop-ab.pem;');
    expect(secure).to.include('add_header Strict-Transport-Security "max-age=600" always;').and.not.include('return 308');
    // Pier's own pages too (their locations inherit no add_header), over HTTPS only.
    const pageHsts = (block: string) => block.split('location @pier_').slice(1).filter((l) => l.includes('Strict-Transport-Security "max-age=600"')).length;
    expect(pageHsts(secure!)).to.equal(6);
    expect(pageHsts(plain!)).to.equal(0);
    // Without a certificate (or without HTTPS in the layout) there is one plain server and no redirect.
    expect(renderApp(templates, BUILTIN_PAGES, tlsLayout, { app: 'shop', hosts: ['shop.example.com'], upstreams: [], settings, maintenance: undefined })).to.not.include('ssl').and.not.include('308');
    const main = renderMain(templates, BUILTIN_PAGES, tlsLayout, { generation: 1, settings: DEFAULT_PROXY_SETTINGS, apps: [] });
    expect(main).to.include('ssl_protocols TLSv1.2 TLSv1.3;').and.include('listen [::]:8443 ipv6only=off ssl default_server;').and.include('ssl_reject_handshake on;');
    expect(renderMain(templates, BUILTIN_PAGES, layout, { generation: 1, settings: DEFAULT_PROXY_SETTINGS, apps: [] })).to.not.include('ssl');
  });

  it('writes the access log to a file of the plane\'s folder in 64 KB buffers when the role reads one, and maps nginx\'s too-large head to the 431 page', () => {
    const main = renderMain(templates, BUILTIN_PAGES, { ...layout, accessLog: true }, { generation: 1, settings: DEFAULT_PROXY_SETTINGS, apps: [] });
    expect(main).to.include(`access_log ${layout.dir}/access.log pier buffer=64k flush=1s if=$pier_log_answered;`).and.include(`access_log ${layout.dir}/access.log pier_unanswered buffer=64k flush=1s if=$pier_log_unanswered;`);
    expect(main).to.include('log_format pier escape=json \'$pier_app\\t$pier_log_time {"host":"$pier_log_host",').and.include('"upstream":null,"request_id"');
    expect(main).to.include('error_page 494 =431 @pier_431;').and.include('location @pier_431 {');
    expect(renderMain(templates, BUILTIN_PAGES, layout, { generation: 1, settings: DEFAULT_PROXY_SETTINGS, apps: [] })).to.include('access_log off;').and.not.include('access.log');
  });
});
