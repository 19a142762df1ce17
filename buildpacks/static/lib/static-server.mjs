// Pier's static file server. The static buildpack copies it into the app as
// /app/.pier/static-server.mjs; the app runs it with the stack's tool Node:
//
//   node static-server.mjs [ROOT]
//
// ROOT defaults to the "root" of .pier/static.json (relative to the app, the
// folder above the server file), else the current folder. It listens on $PORT
// (default 5000).
//
// The file list is read once at start: an app image never changes while it
// runs, and a request can then only reach a file of that list, which is what
// rules out directory traversal, hidden files (.pier, .profile.d, .git, .env)
// and symlinks that lead out of ROOT. Files end up in memory after their first
// request when they are small. gzip comes from FILE.gz siblings made at build
// time (lib/precompress.mjs), not from compressing on the fly.
import { createReadStream, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  cjs: 'text/javascript; charset=utf-8',
  json: 'application/json; charset=utf-8',
  map: 'application/json; charset=utf-8',
  webmanifest: 'application/manifest+json; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
  rss: 'application/rss+xml; charset=utf-8',
  atom: 'application/atom+xml; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  bmp: 'image/bmp',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  eot: 'application/vnd.ms-fontobject',
  wasm: 'application/wasm',
  pdf: 'application/pdf',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  zip: 'application/zip',
  gz: 'application/gzip',
};

/** The Content-Type of a file name, by its extension. */
export function contentType(name) {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 && TYPES[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** Whether a type gains from gzip (text, SVG, icons, fonts that are not already compressed, wasm). */
export function isCompressible(type) {
  return /^(text\/|image\/(svg\+xml|x-icon|bmp)|font\/(ttf|otf)|application\/(json|manifest\+json|xml|rss\+xml|atom\+xml|wasm|vnd\.ms-fontobject))/.test(type);
}

/** Whether an Accept-Encoding header accepts gzip (q > 0 for gzip, x-gzip or *). */
export function acceptsGzip(header) {
  if (!header) return false;
  let gzip;
  let star;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (coding === 'gzip' || coding === 'x-gzip') gzip = weight;
    else if (coding === '*') star = weight;
  }
  return (gzip ?? star ?? 0) > 0;
}

// Hex hashes (webpack, Parcel, Rails, Hugo) anywhere in the name, and the
// 8-character base64url/base32 hashes of Vite/Rollup and esbuild after a dash.
const HEX_HASH = /^(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}$/;
const BUNDLER_HASH = /^(?=(?:[^A-Z]*[A-Z]){2})(?=.*[a-z0-9])[A-Za-z0-9_]{8}$/;

/** Whether a file name carries a content hash, so that its content never changes under that name. */
export function isFingerprinted(name) {
  const parts = path.posix.basename(name).split('.').slice(0, -1);
  return parts.some((part) =>
    part.split('-').some((piece, i) => HEX_HASH.test(piece) || (i > 0 && BUNDLER_HASH.test(piece))),
  );
}

/** Cache-Control: fingerprinted files forever, everything else revalidated (cheap with the ETag). */
export function cacheControl(name) {
  return isFingerprinted(name) && !/\.html?$/i.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/** Whether an If-None-Match header matches an ETag (weak comparison, as for GET). */
export function etagMatches(header, etag) {
  const bare = (tag) => tag.trim().replace(/^W\//, '');
  return header.trim() === '*' || header.split(',').some((tag) => bare(tag) === bare(etag));
}

/**
 * The file-list key of a request target ("/css/a%20b.css?x" -> "css/a b.css"),
 * with `dir` true when it ends with "/"; null when a segment cannot name a
 * listed file (bad escapes, "/", "\" or NUL inside, hidden names but .well-known).
 */
export function requestKey(target) {
  let pathname;
  try {
    // Prefixing origin-form targets keeps "//name" a path, not a host.
    pathname = new URL(target.startsWith('/') ? `http://static.invalid${target}` : target).pathname;
  } catch {
    return null;
  }
  const segments = [];
  for (const raw of pathname.split('/').slice(1)) {
    let segment;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (/[/\\\0]/.test(segment) || (segment.startsWith('.') && segment !== '.well-known')) return null;
    if (segment !== '') segments.push(segment);
  }
  return { key: segments.join('/'), dir: pathname.endsWith('/') };
}

/**
 * Lists the files under `root` that may be served: a Map from "dir/name" to
 * { path, size, mtime } plus the set of folders. Hidden names (but .well-known)
 * are skipped; symlinks count only when they lead to a file inside `root`.
 */
export function listFiles(root) {
  const realRoot = realpathSync(root);
  const files = new Map();
  const dirs = new Set(['']);
  const walk = (dir, prefix) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') && !(entry.isDirectory() && entry.name === '.well-known' && prefix === '')) continue;
      const file = path.join(dir, entry.name);
      const key = prefix + entry.name;
      if (entry.isDirectory()) {
        dirs.add(key);
        walk(file, `${key}/`);
        continue;
      }
      if (entry.isSymbolicLink()) {
        let target;
        try {
          target = realpathSync(file);
        } catch {
          continue;
        }
        if (!target.startsWith(realRoot + path.sep)) continue;
      }
      const stat = statSync(file);
      if (stat.isFile()) files.set(key, { path: file, size: stat.size, mtime: stat.mtime });
    }
  };
  walk(realRoot, '');
  return { files, dirs };
}

const NOT_FOUND_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>404 Not Found</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:4rem auto;max-width:36rem;padding:0 1rem;color:#222}</style></head>
<body><h1>404 Not Found</h1><p>There is no page at this address.</p></body>
</html>
`;

// Files up to this size are kept in memory after their first request, up to the total below.
const MEMORY_FILE_MAX = 256 * 1024;
const MEMORY_TOTAL_MAX = 64 * 1024 * 1024;

/** An http.Server that serves the files under `root`. */
export function createStaticServer(root) {
  const { files, dirs } = listFiles(root);
  const representations = new Map();
  let memoryUsed = 0;

  // What a key is served as: its file, with its gzip sibling when that is listed.
  const representation = (key) => {
    let rep = representations.get(key);
    if (!rep) {
      const file = files.get(key);
      const gz = files.get(`${key}.gz`);
      const type = contentType(key);
      rep = { type, cacheControl: cacheControl(key), plain: variant(file, ''), gzip: gz && isCompressible(type) ? variant(gz, '-gz') : undefined };
      representations.set(key, rep);
    }
    return rep;
  };
  // Each encoding gets its own ETag, as a cache must not take one for the other.
  const variant = (file, suffix) => ({
    ...file,
    etag: `"${file.size.toString(16)}-${Math.floor(file.mtime.getTime() / 1000).toString(16)}${suffix}"`,
    lastModified: file.mtime.toUTCString(),
  });

  const body = async (v) => {
    if (v.buffer) return v.buffer;
    if (v.size > MEMORY_FILE_MAX || memoryUsed + v.size > MEMORY_TOTAL_MAX) return undefined;
    const buffer = await readFile(v.path);
    if (!v.buffer) memoryUsed += buffer.length;
    v.buffer = buffer;
    return buffer;
  };

  const send = async (req, res, status, rep) => {
    const v = rep.gzip && acceptsGzip(req.headers['accept-encoding']) ? rep.gzip : rep.plain;
    const headers = {
      'Cache-Control': status === 200 ? rep.cacheControl : 'no-cache',
      ETag: v.etag,
      'Last-Modified': v.lastModified,
      'X-Content-Type-Options': 'nosniff',
    };
    if (rep.gzip) headers.Vary = 'Accept-Encoding';
    if (status === 200 && isFresh(req, v)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    headers['Content-Type'] = rep.type;
    headers['Content-Length'] = v.size;
    if (v === rep.gzip) headers['Content-Encoding'] = 'gzip';
    if (req.method === 'HEAD') {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const buffer = await body(v);
    if (buffer) {
      res.writeHead(status, headers);
      res.end(buffer);
      return;
    }
    const stream = createReadStream(v.path);
    stream.once('open', () => {
      res.writeHead(status, headers);
      stream.pipe(res);
    });
    stream.once('error', (err) => {
      if (res.headersSent) res.destroy(err);
      else plain(res, 500, 'Internal Server Error');
    });
  };

  const notFound = (req, res) => {
    if (files.has('404.html')) return send(req, res, 404, representation('404.html'));
    res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(NOT_FOUND_PAGE), 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : NOT_FOUND_PAGE);
  };

  const handle = async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'Method Not Allowed');
    }
    const target = requestKey(req.url ?? '/');
    if (!target) return notFound(req, res);
    const { key, dir } = target;
    const index = key === '' ? 'index.html' : `${key}/index.html`;
    if (!dir && files.has(key)) return send(req, res, 200, representation(key));
    if (dirs.has(key) && files.has(index)) {
      if (dir || key === '') return send(req, res, 200, representation(index));
      // Relative links in dir/index.html resolve against "dir/", not against "dir".
      // The Location is rebuilt from the key so that it can only name this site.
      const query = (req.url ?? '').match(/\?.*$/)?.[0] ?? '';
      res.writeHead(301, { Location: `/${key.split('/').map(encodeURIComponent).join('/')}/${query}`, 'Content-Length': 0 });
      return res.end();
    }
    if (!dir && files.has(`${key}.html`)) return send(req, res, 200, representation(`${key}.html`));
    return notFound(req, res);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error(`static server: ${req.method} ${req.url}: ${err.message}`);
      if (res.headersSent) res.destroy(err);
      else plain(res, 500, 'Internal Server Error');
    });
  });
  // Pier's router keeps upstream connections pooled; outlive its idle sockets.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.fileCount = files.size;
  return server;
}

function isFresh(req, v) {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return etagMatches(inm, v.etag);
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  return !Number.isNaN(since) && Math.floor(v.mtime.getTime() / 1000) * 1000 <= since;
}

function plain(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) + 1 });
  res.end(`${text}\n`);
}

function configuredRoot() {
  if (process.argv[2]) return path.resolve(process.argv[2]);
  const config = new URL('./static.json', import.meta.url);
  try {
    const { root } = JSON.parse(readFileSync(config, 'utf8'));
    return path.resolve(fileURLToPath(new URL('..', config)), root);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    return process.cwd();
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = configuredRoot();
  const port = Number(process.env.PORT || 5000);
  const server = createStaticServer(root);
  server.listen(port, () => console.log(`static server: ${server.fileCount} files from ${root} on port ${port}`));
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 10_000).unref();
  });
}
