import { z } from 'zod';

export const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** A plugin route: `METHOD /path`, where a segment `:name` matches any one segment and becomes params.name. */
export const routeKeySchema = z
  .string()
  .regex(/^(GET|POST|PUT|PATCH|DELETE) \/[\w\-.~:/]*$/, 'routes are "METHOD /path" with METHOD one of GET, POST, PUT, PATCH, DELETE, e.g. "GET /status"');

/** The first of `keys` (in the order the plugin declared them) that matches, with its params. */
export function matchRoute(keys: string[], method: string, pathname: string): { key: string; params: Record<string, string> } | undefined {
  const wanted = segments(pathname);
  for (const key of keys) {
    const space = key.indexOf(' ');
    if (key.slice(0, space) !== method) continue;
    const pattern = segments(key.slice(space + 1));
    if (pattern.length !== wanted.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((part, i) => {
      if (part.startsWith(':')) params[part.slice(1)] = wanted[i]!;
      return part.startsWith(':') || part === wanted[i];
    });
    if (matches) return { key, params };
  }
  return undefined;
}

function segments(pathname: string): string[] {
  return pathname.split('/').filter((s) => s !== '');
}
