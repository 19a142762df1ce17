import type http from 'node:http';

/** The API token from "Authorization: Bearer T" or Basic auth (any user name, the token as password, as git sends it). */
export function tokenFrom(req: http.IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

export const UNAUTHENTICATED = 'Invalid or missing API token. Set PIER_TOKEN (run "pier token" on the server to print it).';
