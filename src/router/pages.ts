import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';

const template = Handlebars.compile<PageContext>(readFileSync(new URL('./pages/error.hbs', import.meta.url), 'utf8'), {
  strict: true,
});

interface PageContext {
  status: number;
  title: string;
  message: string;
  hint: string;
  host: string;
}

const pages = {
  400: { title: 'Bad Request', message: 'The router could not read this request.', hint: 'Its framing is malformed or ambiguous (see RFC 9112); fix the client that sent it.' },
  404: { title: 'Not Found', message: 'No app is configured for this host.', hint: 'Check the address, or add the domain to an app: pier domains:add APP DOMAIN' },
  431: { title: 'Request Header Fields Too Large', message: 'The request head is larger than the router accepts (16 KB, 100 fields).', hint: 'Send fewer or smaller headers, cookies especially.' },
  502: { title: 'Bad Gateway', message: 'The app did not answer correctly.', hint: 'Its logs tell more: pier logs APP' },
  503: { title: 'Service Unavailable', message: 'This app has no running web process right now.', hint: 'Deploy it with git push, or start it.' },
  504: { title: 'Gateway Timeout', message: 'The app did not answer in time.', hint: 'Its logs tell more: pier logs APP' },
} as const;

export type PageStatus = keyof typeof pages;

export function renderPage(status: PageStatus, host: string): string {
  return template({ status, host, ...pages[status] });
}

/**
 * A whole error response, head and body, for the router's raw sockets. Error pages are never cached,
 * so a recovered app is seen at once.
 */
export function pageResponse(status: PageStatus, host: string, opts: { close: boolean; head: boolean }): Buffer {
  const body = renderPage(status, host);
  return Buffer.from(
    `HTTP/1.1 ${status} ${pages[status].title}\r\n` +
    'content-type: text/html; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'cache-control: no-store\r\n' +
    (opts.close ? 'connection: close\r\n' : '') +
    `\r\n${opts.head ? '' : body}`,
  );
}
