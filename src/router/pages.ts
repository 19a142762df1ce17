import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
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
  404: { title: 'Not Found', message: 'No app is configured for this host.', hint: 'Check the address, or add the domain to an app: pier domains:add APP DOMAIN' },
  502: { title: 'Bad Gateway', message: 'The app did not answer correctly.', hint: 'Its logs tell more: pier logs APP' },
  503: { title: 'Service Unavailable', message: 'This app has no running web process right now.', hint: 'Deploy it with git push, or start it.' },
} as const;

export type PageStatus = keyof typeof pages;

export function renderPage(status: PageStatus, host: string): string {
  return template({ status, host, ...pages[status] });
}

/** Error pages are never cached, so a recovered app is seen at once. */
export function sendPage(res: ServerResponse, status: PageStatus, host: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = renderPage(status, host);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
