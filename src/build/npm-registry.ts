import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

let cached: string | undefined;

/**
 * The npm registry builds download Node and packages from: the host's own npm configuration,
 * so Pier follows whatever mirror the host uses and never names a registry itself.
 */
export async function hostNpmRegistry(): Promise<string> {
  if (cached) return cached;
  const { stdout } = await run('npm', ['config', 'get', 'registry'], { timeout: 15_000 });
  const registry = stdout.trim();
  if (!/^https?:\/\//.test(registry)) {
    throw new Error(`"npm config get registry" returned "${registry}"; set a registry with: npm config set registry <url>`);
  }
  cached = registry.endsWith('/') ? registry : `${registry}/`;
  return cached;
}
