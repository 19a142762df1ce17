// Types for static-server.mjs (the app runs it as plain JS on the stack's tool Node).
import type http from 'node:http';

export interface ListedFile {
  path: string;
  size: number;
  mtime: Date;
}

/** The Content-Type of a file name, by its extension. */
export function contentType(name: string): string;

/** Whether a type gains from gzip. */
export function isCompressible(type: string): boolean;

/** Whether an Accept-Encoding header accepts gzip. */
export function acceptsGzip(header: string | undefined): boolean;

/** Whether a file name carries a content hash. */
export function isFingerprinted(name: string): boolean;

/** The Cache-Control header for a file name. */
export function cacheControl(name: string): string;

/** Whether an If-None-Match header matches an ETag. */
export function etagMatches(header: string, etag: string): boolean;

/** The file-list key of a request target, or null when it cannot name a listed file. */
export function requestKey(target: string): { key: string; dir: boolean } | null;

/** The files under `root` that may be served, and its folders. */
export function listFiles(root: string): { files: Map<string, ListedFile>; dirs: Set<string> };

/** An http.Server that serves the files under `root`. */
export function createStaticServer(root: string): http.Server & { fileCount: number };
