import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { BuildError } from './builder.js';
import { normalizeArchive } from './source-archive.js';

const run = promisify(execFile);
/** Largest archive `git:from-archive` takes. */
export const MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 300_000;
const MAX_REDIRECTS = 5;

/** Sources that do not come from git push become the same thing a push produces: a tar of the app's root in sourcesDir. */
export class DeploySources {
  constructor(private readonly sourcesDir: string, private readonly caBundle: string) {}

  /** An uploaded or downloaded archive, unwrapped and re-packed; returns the tar and its sha256. */
  async fromArchive(app: string, body: Readable): Promise<{ sourceTar: string; sha: string }> {
    const raw = this.path(app, 'upload');
    try {
      await pipeline(body, limit(MAX_ARCHIVE_BYTES), createWriteStream(raw, { mode: 0o600 }));
      const sourceTar = this.path(app, 'archive');
      await normalizeArchive(raw, sourceTar, this.sourcesDir).catch((err: Error) => {
        throw new BuildError(err.message);
      });
      return { sourceTar, sha: await sha256(sourceTar) };
    } finally {
      await rm(raw, { force: true });
    }
  }

  async download(url: string): Promise<Readable> {
    return get(new URL(url), await readFile(this.caBundle).catch(() => undefined), MAX_REDIRECTS);
  }

  /** A build context whose Dockerfile starts FROM the image: deploying it is a Dockerfile build that labels and tags it. */
  async fromImage(app: string, image: string): Promise<string> {
    const dir = await mkdtemp(path.join(this.sourcesDir, `image-${app}-`));
    try {
      await writeFile(path.join(dir, 'Dockerfile'), `FROM ${image}\n`);
      const sourceTar = this.path(app, 'image');
      await run('tar', ['-cf', sourceTar, '-C', dir, 'Dockerfile']);
      return sourceTar;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private path(app: string, kind: string): string {
    return path.join(this.sourcesDir, `${app}-${kind}-${randomBytes(6).toString('hex')}.tar`);
  }
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

function limit(max: number) {
  let size = 0;
  return async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > max) throw new BuildError(`the archive is larger than ${max / 1024 / 1024} MiB.`);
      yield chunk;
    }
  };
}

function get(url: URL, ca: Buffer | undefined, redirects: number): Promise<Readable> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new BuildError(`${url.href} is not an http(s) URL. Pass a URL, or a local file to upload.`));
  }
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).get(url, url.protocol === 'https:' ? { ca } : {}, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolve(get(new URL(res.headers.location, url), ca, redirects - 1));
      } else if (status !== 200) {
        res.resume();
        reject(new BuildError(`GET ${url.href} answered ${status}; check the archive URL.`));
      } else {
        resolve(res);
      }
    });
    req.setTimeout(DOWNLOAD_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${DOWNLOAD_TIMEOUT_MS / 1000}s`)));
    req.on('error', (err) => reject(new BuildError(`could not download ${url.href}: ${err.message}`)));
  });
}
