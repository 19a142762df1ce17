import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import type { Logger } from '../log.js';
import { DEFAULT_PROXY_SETTINGS, type ProxySettings } from '../proxy-settings.js';

/** What every page template gets; `limit`, `timeout` and `retryAfter` only on the pages named in PAGES. */
export interface PageContext {
  status: number;
  title: string;
  message: string;
  hint: string;
  /** The Host the client asked for, port included. */
  host: string;
  /** The app that owns the host; empty on 400, 404 and 431 before a host is known. */
  app: string;
  /** The request's X-Request-Id, as the app and the access log see it. */
  requestId: string;
  /** 413, 431: the limit in force, e.g. "100 MB". */
  limit?: string;
  /** 504: the response timeout in force, e.g. "30 s". */
  timeout?: string;
  /** maintenance: seconds until clients should try again (the Retry-After header). */
  retryAfter?: number;
}

type Extra = 'limit' | 'timeout' | 'retryAfter';

interface PageDef {
  status: number;
  title: string;
  message: (s: ProxySettings) => string;
  hint: string;
  /** Which of the optional variables this page gets, from the settings in force. */
  extra: (s: ProxySettings, retryAfterSec: number) => Partial<Pick<PageContext, Extra>>;
}

const none = () => ({});

const bytes = (n: number) =>
  n >= 1024 ** 2 && n % 1024 ** 2 === 0 ? `${n / 1024 ** 2} MB` : n >= 1024 && n % 1024 === 0 ? `${n / 1024} KB` : `${n} bytes`;
const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

/** Every page the router serves itself; an operator's `<name>.hbs` in PIER_HOME/templates replaces one. */
const PAGES = {
  400: { status: 400, title: 'Bad Request', message: () => 'The router could not read this request.', hint: 'Its framing is malformed or ambiguous (see RFC 9112); fix the client that sent it.', extra: none },
  404: { status: 404, title: 'Not Found', message: () => 'No app is configured for this host.', hint: 'Check the address, or add the domain to an app: pier domains:add APP DOMAIN', extra: none },
  413: {
    status: 413,
    title: 'Content Too Large',
    message: (s) => `The request body is larger than this app accepts (${bytes(s.maxBodyBytes)}).`,
    hint: 'Send a smaller body, or raise the limit: pier proxy:set APP max-body-size SIZE',
    extra: (s) => ({ limit: bytes(s.maxBodyBytes) }),
  },
  431: {
    status: 431,
    title: 'Request Header Fields Too Large',
    message: (s) => `The request head is larger than the router accepts (${bytes(s.maxHeaderBytes)}, 100 fields).`,
    hint: 'Send fewer or smaller headers, cookies especially.',
    extra: (s) => ({ limit: bytes(s.maxHeaderBytes) }),
  },
  502: { status: 502, title: 'Bad Gateway', message: () => 'The app did not answer correctly.', hint: 'Its logs tell more: pier logs APP', extra: none },
  503: { status: 503, title: 'Service Unavailable', message: () => 'This app has no running web process right now.', hint: 'Deploy it with git push, or start it.', extra: none },
  504: {
    status: 504,
    title: 'Gateway Timeout',
    message: (s) => `The app did not answer in time. It has ${seconds(s.responseTimeoutMs)} to start its response.`,
    hint: 'Its logs tell more: pier logs APP',
    extra: (s) => ({ timeout: seconds(s.responseTimeoutMs) }),
  },
  maintenance: {
    status: 503,
    title: 'Down for Maintenance',
    message: () => 'This app is down for maintenance and will be back shortly.',
    hint: 'Please try again in a little while.',
    extra: (_s, retryAfterSec) => ({ retryAfter: retryAfterSec }),
  },
} satisfies Record<string, PageDef>;

export type PageName = keyof typeof PAGES;
export const PAGE_NAMES = Object.keys(PAGES) as PageName[];

export const pageStatus = (name: PageName): number => PAGES[name].status;

/** What a page is about: the request it answers and the settings in force for its app. */
export interface PageRequest {
  host: string;
  app: string | undefined;
  requestId: string;
  settings: ProxySettings;
  /** Maintenance mode's Retry-After, in seconds. */
  retryAfterSec?: number;
}

export function pageContext(name: PageName, req: PageRequest): PageContext {
  const def: PageDef = PAGES[name];
  return {
    status: def.status,
    title: def.title,
    message: def.message(req.settings),
    hint: def.hint,
    host: req.host,
    app: req.app ?? '',
    requestId: req.requestId,
    ...def.extra(req.settings, req.retryAfterSec ?? 0),
  };
}

type Template = Handlebars.TemplateDelegate<PageContext>;

// Strict: a variable a template names and the context lacks is an error, found when overrides are checked.
const compile = (source: string): Template => Handlebars.compile<PageContext>(source, { strict: true });
const builtin = (file: string) => compile(readFileSync(new URL(`./pages/${file}`, import.meta.url), 'utf8'));
const BUILTIN: Record<PageName, Template> = (() => {
  const error = builtin('error.hbs');
  const templates = Object.fromEntries(PAGE_NAMES.map((n) => [n, error])) as Record<PageName, Template>;
  templates.maintenance = builtin('maintenance.hbs');
  return templates;
})();

/** The router's pages: built in, some replaced by the operator's templates. */
export class Pages {
  constructor(private readonly templates: Record<PageName, Template> = BUILTIN) {}

  render(name: PageName, req: PageRequest): string {
    return this.templates[name](pageContext(name, req));
  }

  /**
   * A whole response, head and body, for the router's raw sockets. Pages are never cached, so a
   * recovered app is seen at once. `hsts` is the Strict-Transport-Security value, given over HTTPS only.
   */
  response(name: PageName, req: PageRequest, opts: { close: boolean; head: boolean; hsts?: string }): Buffer {
    const def: PageDef = PAGES[name];
    const body = this.render(name, req);
    return Buffer.from(
      `HTTP/1.1 ${def.status} ${def.title}\r\n` +
        'content-type: text/html; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'cache-control: no-store\r\n' +
        (req.retryAfterSec !== undefined ? `retry-after: ${req.retryAfterSec}\r\n` : '') +
        (opts.hsts !== undefined ? `strict-transport-security: ${opts.hsts}\r\n` : '') +
        (opts.close ? 'connection: close\r\n' : '') +
        `\r\n${opts.head ? '' : body}`,
    );
  }
}

export const BUILTIN_PAGES = new Pages();

const SAMPLE: PageRequest = { host: 'sample.example.com', app: 'sample', requestId: 'sample-request-id', settings: DEFAULT_PROXY_SETTINGS, retryAfterSec: 60 };

/**
 * The built-in pages with the operator's overrides from `dir` (`404.hbs`, `maintenance.hbs`, …). Each
 * override is compiled and rendered once with sample data now; one that fails is logged with its file
 * and the problem, and the built-in page stays, so a typo never breaks the router.
 */
export async function loadPages(dir: string, log: Logger): Promise<Pages> {
  const files = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const templates = { ...BUILTIN };
  for (const file of files.filter((f) => f.endsWith('.hbs')).sort()) {
    const name = file.slice(0, -'.hbs'.length);
    const where = path.join(dir, file);
    if (!(name in PAGES)) {
      log.warn({ file: where }, `page template ignored: ${name} is not a page; the pages are ${PAGE_NAMES.join(', ')}`);
      continue;
    }
    try {
      const template = compile(await readFile(where, 'utf8'));
      template(pageContext(name as PageName, SAMPLE));
      templates[name as PageName] = template;
      log.info({ file: where }, 'page template override in use');
    } catch (err) {
      log.error({ file: where, problem: (err as Error).message }, `page template ${where} is broken (${(err as Error).message}); the built-in ${name} page is used`);
    }
  }
  return new Pages(templates);
}
