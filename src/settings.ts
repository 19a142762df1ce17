import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { trustedProxyProblem } from './router/trusted-proxies.js';

/** Ports are plain decimal numbers; an empty value means "use the default". */
const port = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
  z
    .string()
    .regex(/^\d+$/, 'must be a port number (1-65535)')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be a port number (1-65535)').max(65535, 'must be a port number (1-65535)'))
    .optional(),
);

/** Comma-separated IPs and CIDR ranges; empty means none. */
const trustedProxies = z
  .string()
  .default('')
  .transform((v) => v.split(',').map((e) => e.trim()).filter((e) => e !== ''))
  .superRefine((entries, ctx) => {
    for (const entry of entries) {
      const problem = trustedProxyProblem(entry);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    }
  });

const schema = z.object({
  PIER_API_PORT: port.transform((v) => v ?? 7780),
  PIER_HTTP_PORT: port.transform((v) => v ?? 80),
  PIER_HTTPS_PORT: port.transform((v) => v ?? 443),
  PIER_DOMAIN: z.string().regex(/^[a-z0-9.-]+$/i, 'a DNS name such as example.com').default('localhost'),
  PIER_REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  PIER_HOME: z.string().default('/var/lib/pier'),
  PIER_INSTANCE: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'lowercase letters, digits and dashes').default('pier'),
  PIER_CA_BUNDLE: z.string().default('/etc/ssl/certs/ca-certificates.crt'),
  PIER_STACK_IMAGE: z.string().default('pier/stack:bookworm'),
  PIER_BUILD_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(os.availableParallelism()),
  PIER_BUILD_TIMEOUT: z.coerce.number().int().min(1, 'seconds, at least 1').default(1800),
  PIER_KEEP_RELEASES: z.coerce.number().int().min(1, 'at least 1 (the current release)').default(5),
  PIER_MIN_FREE_DISK_MB: z.coerce.number().int().min(0, 'megabytes, 0 or more').default(1024),
  PIER_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PIER_TRUSTED_PROXIES: trustedProxies,
  PIER_ROUTER_WORKERS: z.coerce.number().int().min(1, 'at least 1').max(64, 'at most 64').default(1),
});

export interface Settings {
  apiPort: number;
  httpPort: number;
  /** The router's TLS listener; certificates are picked by SNI (certs:add). */
  httpsPort: number;
  domain: string;
  redisUrl: string;
  home: string;
  /** Namespaces Redis keys, Docker objects and labels so several daemons (or tests) share a host. */
  instance: string;
  caBundle: string;
  stackImage: string;
  buildConcurrency: number;
  /** Seconds a build may take before it is stopped. */
  buildTimeoutSec: number;
  /** Releases per app whose images are kept for rollback; older images are pruned. */
  keepReleases: number;
  /** Builds refuse to start with less free disk than this (MB) for Docker's data or PIER_HOME. */
  minFreeDiskMb: number;
  logLevel: string;
  /** Peers (IPs, CIDR ranges) whose X-Forwarded-* headers the router keeps; from anyone else they are replaced. */
  trustedProxies: string[];
  /** Router processes sharing PIER_HTTP_PORT (node:cluster workers); 1 serves from the daemon's own process. */
  routerWorkers: number;
  reposDir: string;
  hooksDir: string;
  sourcesDir: string;
  tokensDir: string;
  /** Mirrors of custom buildpacks' git repositories. */
  buildpackCacheDir: string;
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid Pier settings (${problems}). Fix them in /etc/pier/pier.env or the environment.`);
  }
  const e = parsed.data;
  const home = path.resolve(e.PIER_HOME);
  return {
    apiPort: e.PIER_API_PORT,
    httpPort: e.PIER_HTTP_PORT,
    httpsPort: e.PIER_HTTPS_PORT,
    domain: e.PIER_DOMAIN.toLowerCase(),
    redisUrl: e.PIER_REDIS_URL,
    home,
    instance: e.PIER_INSTANCE,
    caBundle: e.PIER_CA_BUNDLE,
    stackImage: e.PIER_STACK_IMAGE,
    buildConcurrency: e.PIER_BUILD_CONCURRENCY,
    buildTimeoutSec: e.PIER_BUILD_TIMEOUT,
    keepReleases: e.PIER_KEEP_RELEASES,
    minFreeDiskMb: e.PIER_MIN_FREE_DISK_MB,
    logLevel: e.PIER_LOG_LEVEL,
    trustedProxies: e.PIER_TRUSTED_PROXIES,
    routerWorkers: e.PIER_ROUTER_WORKERS,
    reposDir: path.join(home, 'repos'),
    hooksDir: path.join(home, 'hooks'),
    sourcesDir: path.join(home, 'sources'),
    tokensDir: path.join(home, 'tokens'),
    buildpackCacheDir: path.join(home, 'buildpacks'),
  };
}
