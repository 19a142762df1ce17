import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/log.js';
import { DEFAULT_PROXY_SETTINGS, effectiveProxySettings } from '../../src/proxy-settings.js';
import { BUILTIN_PAGES, loadPages, PAGE_NAMES, pageContext, type PageRequest } from '../../src/router/pages.js';

const request = (over: Partial<PageRequest> = {}): PageRequest => ({ host: 'shop.localhost', app: 'shop', requestId: 'rid-1', settings: DEFAULT_PROXY_SETTINGS, ...over });
const response = (name: Parameters<typeof BUILTIN_PAGES.response>[0], over: Partial<PageRequest> = {}, opts = { close: false, head: false }) =>
  BUILTIN_PAGES.response(name, request(over), opts).toString();

/** A logger whose lines land in `lines`, as JSON objects. */
function capturingLogger(lines: Record<string, unknown>[]) {
  const log = createLogger('info');
  const write = (obj: object, msg?: string) => lines.push({ ...obj, msg });
  return Object.assign(Object.create(log) as typeof log, { info: write, warn: write, error: write });
}

describe('router pages', () => {
  it('a page is a whole response whose Content-Length counts its UTF-8 bytes', () => {
    const raw = BUILTIN_PAGES.response(404, request({ app: undefined }), { close: false, head: false });
    const text = raw.toString('utf8');
    const split = text.indexOf('\r\n\r\n');
    const body = raw.subarray(Buffer.byteLength(text.slice(0, split + 4)));
    expect(text.slice(0, split)).to.equal(
      `HTTP/1.1 404 Not Found\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${body.length}\r\ncache-control: no-store`,
    );
    expect(body.toString()).to.include('<h1>404 Not Found</h1>').and.include('shop.localhost');
  });

  it('a page that ends the connection says so, and a HEAD request gets the head alone', () => {
    const raw = response(400, {}, { close: true, head: true });
    expect(raw).to.match(/\r\nconnection: close\r\n\r\n$/);
    expect(raw).to.not.include('<html');
  });

  it('the host is HTML-escaped', () => {
    expect(response(404, { host: '<script>' })).to.include('&lt;script&gt;').and.not.include('<script>');
  });

  it('the maintenance page is a 503 with Retry-After and a page of its own', () => {
    const raw = response('maintenance', { retryAfterSec: 120 });
    expect(raw).to.match(/^HTTP\/1\.1 503 Down for Maintenance\r\n/).and.include('\r\nretry-after: 120\r\n').and.include('\r\ncache-control: no-store\r\n');
    expect(raw).to.include('down for maintenance').and.not.include('no running web process');
  });

  it('a page over HTTPS carries the Strict-Transport-Security it is given, and none without', () => {
    const raw = BUILTIN_PAGES.response('maintenance', request({ retryAfterSec: 60 }), { close: false, head: false, hsts: 'max-age=600' }).toString();
    expect(raw).to.match(/^HTTP\/1\.1 503 Down for Maintenance\r\n/).and.include('\r\nstrict-transport-security: max-age=600\r\n');
    expect(response(404)).to.not.include('strict-transport-security');
  });

  it('413, 431 and 504 name the limit in force for the app', () => {
    const settings = effectiveProxySettings({ 'max-body-size': '2m', 'max-header-size': '8k', 'response-timeout': '1500ms' }, {});
    expect(response(413, { settings })).to.match(/^HTTP\/1\.1 413 Content Too Large\r\n/).and.include('(2 MB)');
    expect(response(431, { settings })).to.include('(8 KB, 100 fields)');
    expect(response(504, { settings })).to.include('It has 1500 ms to start its response.');
  });

  it('each page gets the variables its documentation names', () => {
    expect(pageContext('maintenance', request({ retryAfterSec: 30 }))).to.include({ status: 503, app: 'shop', requestId: 'rid-1', retryAfter: 30 });
    expect(pageContext(413, request())).to.include({ limit: '100 MB' }).and.not.have.property('retryAfter');
    expect(pageContext(504, request())).to.include({ timeout: '30 s' });
    expect(PAGE_NAMES).to.have.members(['400', '404', '413', '431', '502', '503', '504', 'maintenance']);
  });

  describe('operator overrides', () => {
    let dir: string;
    beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'pier-pages-'))));
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('a template in the folder replaces its page; the others stay built in', async () => {
      await writeFile(path.join(dir, '503.hbs'), '<p>{{app}} sleeps ({{status}}, {{requestId}})</p>');
      const lines: Record<string, unknown>[] = [];
      const pages = await loadPages(dir, capturingLogger(lines));
      expect(pages.render(503, request())).to.equal('<p>shop sleeps (503, rid-1)</p>');
      expect(pages.render(502, request())).to.include('The app did not answer correctly.');
      expect(lines.map((l) => l.msg)).to.deep.equal(['page template override in use']);
    });

    it('a template that does not compile, or names a variable its page lacks, is logged and the built-in page is used', async () => {
      await writeFile(path.join(dir, '404.hbs'), '{{#if host}}unclosed');
      await writeFile(path.join(dir, '502.hbs'), '<p>{{retryAfter}}</p>');
      const lines: Record<string, unknown>[] = [];
      const pages = await loadPages(dir, capturingLogger(lines));
      expect(pages.render(404, request())).to.include('No app is configured for this host.');
      expect(pages.render(502, request())).to.include('The app did not answer correctly.');
      const messages = lines.map((l) => String(l.msg));
      expect(messages[0]).to.include(`${path.join(dir, '404.hbs')} is broken (`).and.include('the built-in 404 page is used');
      expect(messages[1]).to.include(`${path.join(dir, '502.hbs')} is broken (`).and.include('"retryAfter" not defined');
    });

    it('a file that names no page is reported and ignored; a missing folder means no overrides', async () => {
      await writeFile(path.join(dir, '500.hbs'), 'x');
      const lines: Record<string, unknown>[] = [];
      await loadPages(dir, capturingLogger(lines));
      expect(String(lines[0]!.msg)).to.include('500 is not a page; the pages are 400, 404, 413, 431, 502, 503, 504, maintenance');
      const none = await loadPages(path.join(dir, 'nowhere'), capturingLogger(lines));
      expect(none.render(404, request())).to.include('No app is configured');
    });
  });
});
