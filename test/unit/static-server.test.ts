import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  acceptsGzip,
  cacheControl,
  contentType,
  etagMatches,
  isCompressible,
  isFingerprinted,
  listFiles,
  requestKey,
} from '../../buildpacks/static/lib/static-server.mjs';
import { closedPort } from '../helpers/http.js';

const lib = join(dirname(fileURLToPath(import.meta.url)), '../../buildpacks/static/lib');
const css = `body { color: #222; }\n${'.rule { margin: 0 auto; padding: 1rem; }\n'.repeat(40)}`;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(port: number, target: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer within 5 s for ${target}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Starts `node <server> [root]` on a free port; resolves once it says it listens. */
async function startServer(server: string, args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const port = await closedPort();
  const child = spawn(process.execPath, [server, ...args], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the static server did not start within 5 s: ${output}`)), 5000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('static server:')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the static server exited (${code}): ${output}`)));
  });
  return { child, port };
}

describe('static buildpack server', () => {
  describe('pure parts', () => {
    it('names content types by extension, with a charset for text', () => {
      const types = {
        'index.html': 'text/html; charset=utf-8',
        'a/b/app.JS': 'text/javascript; charset=utf-8',
        'logo.svg': 'image/svg+xml',
        'font.woff2': 'font/woff2',
        LICENSE: 'application/octet-stream',
        'archive.unknownext': 'application/octet-stream',
      };
      for (const [name, type] of Object.entries(types)) expect(contentType(name), name).to.equal(type);
    });

    it('compresses text, SVG and JSON but not images that are compressed already', () => {
      for (const name of ['a.html', 'a.css', 'a.js', 'a.json', 'a.svg', 'a.txt', 'a.wasm']) expect(isCompressible(contentType(name)), name).to.equal(true);
      for (const name of ['a.png', 'a.jpg', 'a.woff2', 'a.gz', 'a.mp4', 'LICENSE']) expect(isCompressible(contentType(name)), name).to.equal(false);
    });

    it('reads Accept-Encoding with q-values and wildcards', () => {
      for (const header of ['gzip, deflate, br', 'br;q=1.0, GZIP;q=0.5', '*']) expect(acceptsGzip(header), header).to.equal(true);
      for (const header of ['gzip;q=0, *', 'identity', '*;q=0', '', undefined]) expect(acceptsGzip(header), String(header)).to.equal(false);
    });

    it('recognises the content hashes of common bundlers, and not ordinary names', () => {
      for (const name of ['main.3f2a9c1b.js', 'assets/index-BdRPmjTw.js', 'chunk-5JQB2BGM.js', 'main.3f2a9c1b.chunk.css', 'app-0a1b2c3d4e5f60718293a4b5c6d7e8f9.css']) {
        expect(isFingerprinted(name), name).to.equal(true);
      }
      for (const name of ['style.css', 'jquery-3.7.1.min.js', 'html5shiv.js', 'TweenMax.min.js', 'react-Devtools.js', 'deadbeef.js', 'report-20240101.pdf', 'index.html']) {
        expect(isFingerprinted(name), name).to.equal(false);
      }
    });

    it('caches fingerprinted assets for a year and makes everything else revalidate', () => {
      expect(cacheControl('assets/index-BdRPmjTw.js')).to.equal('public, max-age=31536000, immutable');
      for (const name of ['css/style.css', 'index.html', 'page.3f2a9c1b.html']) expect(cacheControl(name), name).to.equal('no-cache');
    });

    it('matches If-None-Match lists, weak tags and *', () => {
      for (const header of ['"1c2-6b0e"', '"x", W/"1c2-6b0e"', '*']) expect(etagMatches(header, '"1c2-6b0e"'), header).to.equal(true);
      expect(etagMatches('"1c2-6b0f"', '"1c2-6b0e"')).to.equal(false);
    });

    it('turns request targets into file-list keys and refuses the ones that could escape or reach hidden files', () => {
      expect(requestKey('/')).to.deep.equal({ key: '', dir: true });
      expect(requestKey('/css/a%20b.css?v=2')).to.deep.equal({ key: 'css/a b.css', dir: false });
      expect(requestKey('/docs/')).to.deep.equal({ key: 'docs', dir: true });
      expect(requestKey('/a//b')).to.deep.equal({ key: 'a/b', dir: false });
      expect(requestKey('/../../etc/passwd')).to.deep.equal({ key: 'etc/passwd', dir: false });
      expect(requestKey('/%2e%2e/%2e%2e/etc/passwd')).to.deep.equal({ key: 'etc/passwd', dir: false });
      expect(requestKey('//evil.example/x')).to.deep.equal({ key: 'evil.example/x', dir: false });
      expect(requestKey('/.well-known/security.txt')).to.deep.equal({ key: '.well-known/security.txt', dir: false });
      for (const target of ['/..%2f..%2fetc%2fpasswd', '/a%5c..%5csecret', '/a%00.html', '/.env', '/.pier/static.json', '/css/.hidden', '/%E0%A4%A', '*']) {
        expect(requestKey(target), target).to.equal(null);
      }
    });

    it('lists only the files that may be served', () => {
      const root = mkdtempSync(join(tmpdir(), 'pier-static-list-'));
      try {
        mkdirSync(join(root, 'css'));
        mkdirSync(join(root, '.pier'));
        mkdirSync(join(root, '.well-known'));
        for (const file of ['index.html', 'css/style.css', '.env', '.pier/static.json', '.well-known/security.txt']) writeFileSync(join(root, file), 'x');
        symlinkSync('index.html', join(root, 'home.html'));
        symlinkSync('/etc/hostname', join(root, 'outside.txt'));
        symlinkSync('css', join(root, 'styles'));
        const { files, dirs } = listFiles(root);
        expect([...files.keys()].sort()).to.deep.equal(['.well-known/security.txt', 'css/style.css', 'home.html', 'index.html']);
        expect([...dirs].sort()).to.deep.equal(['', '.well-known', 'css']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe('over HTTP', () => {
    let site: string;
    let server: { child: ChildProcess; port: number };
    const mtime = new Date('2024-05-01T12:00:00Z');

    before(async () => {
      site = mkdtempSync(join(tmpdir(), 'pier-static-site-'));
      mkdirSync(join(site, 'css'));
      mkdirSync(join(site, 'docs'));
      mkdirSync(join(site, 'assets'));
      mkdirSync(join(site, '.pier'));
      writeFileSync(join(site, 'index.html'), '<h1>home</h1>\n');
      writeFileSync(join(site, 'about.html'), '<h1>about</h1>\n');
      writeFileSync(join(site, 'docs/index.html'), '<h1>docs</h1>\n');
      writeFileSync(join(site, 'css/style.css'), css);
      writeFileSync(join(site, 'assets/app-BdRPmjTw.js'), 'console.log(1);\n');
      writeFileSync(join(site, '404.html'), '<h1>custom 404</h1>\n');
      writeFileSync(join(site, '.env'), 'SECRET=1\n');
      writeFileSync(join(site, '.pier/static.json'), '{}\n');
      utimesSync(join(site, 'css/style.css'), mtime, mtime);
      const pre = spawnSync(process.execPath, [join(lib, 'precompress.mjs'), site], { encoding: 'utf8' });
      expect(pre.status, pre.stderr).to.equal(0);
      expect(pre.stdout).to.match(/^ {7}gzip: 1 file, /);
      server = await startServer(join(lib, 'static-server.mjs'), [site]);
    });

    after(() => {
      server?.child.kill();
      if (site) rmSync(site, { recursive: true, force: true });
    });

    it('serves index.html at / as uncached-but-revalidatable HTML', async () => {
      const res = await request(server.port, '/');
      expect(res.status).to.equal(200);
      expect(res.body.toString()).to.equal('<h1>home</h1>\n');
      expect(res.headers['content-type']).to.equal('text/html; charset=utf-8');
      expect(res.headers['cache-control']).to.equal('no-cache');
      expect(res.headers.etag).to.match(/^"[0-9a-f]+-[0-9a-f]+"$/);
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
    });

    it('serves the pre-compressed copy to clients that accept gzip, and the plain file to others', async () => {
      const gz = await request(server.port, '/css/style.css', { headers: { 'accept-encoding': 'gzip, br' } });
      expect(gz.status).to.equal(200);
      expect(gz.headers['content-encoding']).to.equal('gzip');
      expect(gz.headers.vary).to.equal('Accept-Encoding');
      expect(gz.headers['content-type']).to.equal('text/css; charset=utf-8');
      expect(Number(gz.headers['content-length'])).to.equal(gz.body.length).and.to.be.below(css.length / 4);
      expect(gunzipSync(gz.body).toString()).to.equal(css);
      expect(gz.headers['last-modified']).to.equal(mtime.toUTCString());

      const plain = await request(server.port, '/css/style.css');
      expect(plain.headers['content-encoding']).to.equal(undefined);
      expect(plain.body.toString()).to.equal(css);
      expect(gz.headers.etag).to.match(/-gz"$/);
      expect(plain.headers.etag).to.not.equal(gz.headers.etag);
    });

    it('answers 304 to If-None-Match and If-Modified-Since when the file did not change', async () => {
      const first = await request(server.port, '/css/style.css', { headers: { 'accept-encoding': 'gzip' } });
      const byTag = await request(server.port, '/css/style.css', { headers: { 'accept-encoding': 'gzip', 'if-none-match': first.headers.etag! } });
      expect(byTag.status).to.equal(304);
      expect(byTag.body.length).to.equal(0);
      expect(byTag.headers.etag).to.equal(first.headers.etag);
      const byDate = await request(server.port, '/css/style.css', { headers: { 'if-modified-since': mtime.toUTCString() } });
      expect(byDate.status).to.equal(304);
      const older = await request(server.port, '/css/style.css', { headers: { 'if-modified-since': new Date(mtime.getTime() - 1000).toUTCString() } });
      expect(older.status).to.equal(200);
      const otherTag = await request(server.port, '/css/style.css', { headers: { 'if-none-match': '"nope"', 'if-modified-since': mtime.toUTCString() } });
      expect(otherTag.status).to.equal(200);
    });

    it('caches fingerprinted assets for a year', async () => {
      const res = await request(server.port, '/assets/app-BdRPmjTw.js');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('text/javascript; charset=utf-8');
      expect(res.headers['cache-control']).to.equal('public, max-age=31536000, immutable');
    });

    it('answers HEAD with the headers of GET and no body', async () => {
      const res = await request(server.port, '/css/style.css', { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } });
      expect(res.status).to.equal(200);
      expect(res.body.length).to.equal(0);
      expect(res.headers['content-encoding']).to.equal('gzip');
      expect(Number(res.headers['content-length'])).to.be.above(0);
      expect((await request(server.port, '/missing', { method: 'HEAD' })).status).to.equal(404);
    });

    it("answers unknown paths with the app's 404.html and status 404", async () => {
      const res = await request(server.port, '/no/such/page');
      expect(res.status).to.equal(404);
      expect(res.body.toString()).to.equal('<h1>custom 404</h1>\n');
      expect(res.headers['cache-control']).to.equal('no-cache');
    });

    it('never serves hidden files or anything outside the root, however the path is spelled', async () => {
      for (const target of ['/.env', '/.pier/static.json', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/css/..%2f.env', '/%2e%65nv', '//etc/passwd']) {
        const res = await request(server.port, target);
        expect(res.status, target).to.equal(404);
        expect(res.body.toString(), target).to.equal('<h1>custom 404</h1>\n');
      }
    });

    it('serves folders by their index.html, redirecting to the trailing slash, and pages without .html', async () => {
      const redirect = await request(server.port, '/docs?x=1');
      expect(redirect.status).to.equal(301);
      expect(redirect.headers.location).to.equal('/docs/?x=1');
      expect((await request(server.port, '/docs/')).body.toString()).to.equal('<h1>docs</h1>\n');
      expect((await request(server.port, '/about')).body.toString()).to.equal('<h1>about</h1>\n');
      expect((await request(server.port, '/about.html/')).status).to.equal(404);
    });

    it('refuses methods other than GET and HEAD', async () => {
      const res = await request(server.port, '/', { method: 'POST' });
      expect(res.status).to.equal(405);
      expect(res.headers.allow).to.equal('GET, HEAD');
    });
  });

  it('reads its root from .pier/static.json and has a built-in 404 page', async () => {
    const app = mkdtempSync(join(tmpdir(), 'pier-static-app-'));
    let started: { child: ChildProcess; port: number } | undefined;
    try {
      mkdirSync(join(app, '.pier'));
      mkdirSync(join(app, 'public'));
      copyFileSync(join(lib, 'static-server.mjs'), join(app, '.pier/static-server.mjs'));
      writeFileSync(join(app, '.pier/static.json'), JSON.stringify({ root: 'public' }));
      writeFileSync(join(app, 'public/index.html'), 'from public\n');
      writeFileSync(join(app, 'secret.txt'), 'not public\n');
      started = await startServer(join(app, '.pier/static-server.mjs'), []);
      expect((await request(started.port, '/')).body.toString()).to.equal('from public\n');
      const missing = await request(started.port, '/secret.txt');
      expect(missing.status).to.equal(404);
      expect(missing.headers['content-type']).to.equal('text/html; charset=utf-8');
      expect(missing.body.toString()).to.contain('404 Not Found');
    } finally {
      started?.child.kill();
      rmSync(app, { recursive: true, force: true });
    }
  });
});
