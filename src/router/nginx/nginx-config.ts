import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { projectRoot } from '../../paths.js';
import { nameCovers } from '../../certificates.js';
import type { ProxySettings } from '../../proxy-settings.js';
import type { StoredCertificate } from '../../state/cert-store.js';
import { MAX_LOGGED_FIELD } from '../access-log.js';
import { DEFAULT_TIMEOUTS } from '../client-connection.js';
import type { Pages, PageName } from '../pages.js';
import type { AppSnapshot } from '../route-table.js';

/*
 * Pure: the route table as nginx configuration, through the nginx-proxy plugin's handlebars templates
 * (noEscape: this is nginx syntax, not HTML; strict: a variable a template names and the view lacks is
 * an error, not an empty string that nginx might accept).
 */

export const templatesDir = `${projectRoot}/plugins/nginx-proxy/templates`;

type Template = Handlebars.TemplateDelegate<unknown>;

export function compileTemplate(source: string): Template {
  return Handlebars.compile(source, { noEscape: true, strict: true });
}

const loadTemplate = (name: string) => compileTemplate(readFileSync(`${templatesDir}/${name}`, 'utf8'));

export interface NginxTemplates {
  main: Template;
  app: Template;
}

export const builtinTemplates = (): NginxTemplates => ({ main: loadTemplate('nginx.conf.hbs'), app: loadTemplate('app.conf.hbs') });

/** Where the plane's files live and what it listens on: the same for every app. */
export interface PlaneLayout {
  /** $PIER_HOME/nginx: config, pid, error log, access log, control socket, temp folders. */
  dir: string;
  /** The address of the daemon's listening socket (PIER_HTTP_PORT), which nginx inherits: `[::]:80` or `0.0.0.0:80`. */
  listen: string;
  /** nginx's worker_processes: `auto`, or a count. */
  workers: string;
  trustedProxies: readonly string[];
  /** Idle upstream connections each worker keeps per app. */
  keepalive: number;
  /** PIER_HTTPS_PORT's socket, inherited too (fd 4): its address as `listen` names it, and the public port redirects name. */
  https?: { listen: string; port: number };
  /** nginx writes each request's access log line to accessLogFile(dir), which the router role reads. */
  accessLog?: boolean;
}

/** An app's certificate as the plane serves it: the file (chain and key, mode 0600) and the names it covers. */
export interface AppTls {
  file: string;
  names: readonly string[];
}

/** The pages nginx serves itself, by status, as error_page names them. */
const PAGE_STATUSES = [404, 413, 431, 502, 503, 504] as const;

// Markers survive handlebars' HTML escaping of the page templates, then become nginx variables.
const HOST_MARK = '\u0001host\u0001';
const REQUEST_ID_MARK = '\u0001request-id\u0001';

/**
 * A page as the body of nginx's `return`: single-quoted, `$` kept literal (nginx has no escape for it,
 * hence the $pier_dollar variable of the main template), the host and request id filled in per request.
 */
export function nginxPageString(html: string): string {
  const quoted = html.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\$/g, '${pier_dollar}');
  return `'${quoted.replaceAll(HOST_MARK, '${pier_page_host}').replaceAll(REQUEST_ID_MARK, '${pier_request_id}')}'`;
}

/**
 * The named locations error_page sends each status to, with the page rendered for these settings.
 * `hsts`: the HTTPS server's Strict-Transport-Security value; a location with add_header of its own
 * inherits none of the server's, so the pages carry it themselves, as the built-in router's do.
 */
export function pageLocations(pages: Pages, app: string | undefined, settings: ProxySettings, indent: string, hsts: string | false = false): string {
  return PAGE_STATUSES.map((status) => {
    const body = pages.render(String(status) as PageName, { host: HOST_MARK, app, requestId: REQUEST_ID_MARK, settings });
    return (
      `${indent}location @pier_${status} {\n` +
      `${indent}  default_type "text/html; charset=utf-8";\n` +
      `${indent}  add_header Cache-Control no-store always;\n` +
      (hsts ? `${indent}  add_header Strict-Transport-Security "${hsts}" always;\n` : '') +
      `${indent}  return ${status} ${nginxPageString(body)};\n` +
      `${indent}}`
    );
  }).join('\n');
}

/** nginx names an upstream block; app names are already [a-z0-9-]. */
const upstreamName = (app: string) => `pier_app_${app.replace(/-/g, '_')}`;

/** A server_name entry nginx reads as a plain or wildcard name: anything else (a regex, a stray `;`) is left out. */
const NGINX_HOST = /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/;
/** host:port or [v6]:port, nothing that could end the directive. */
const NGINX_UPSTREAM = /^([0-9a-z.-]+|\[[0-9a-f:.]+\]):\d{1,5}$/i;

const regexEscape = (name: string) => name.replace(/[.]/g, '\\.');

/**
 * The app's host names HTTPS serves: those its certificate names, as nginx server_name entries (exact
 * names first-class, a certificate wildcard as a one-label regex: `*.blog.test` covers `eu.blog.test`,
 * not `a.b.blog.test`, where nginx's own `*.` would match any depth), and one regex of them all, for
 * the https-only redirect. Undefined when the certificate names none of the app's hosts.
 */
export function tlsServerNames(hosts: readonly string[], certNames: readonly string[]): { serverNames: string[]; pattern: string } | undefined {
  const exact = new Set<string>();
  const wild = new Set<string>();
  for (const host of hosts) {
    if (!host.startsWith('*.')) {
      if (certNames.some((n) => nameCovers(n, host))) exact.add(host);
      continue;
    }
    // A wildcard domain: the certificate's names under it.
    for (const name of certNames) {
      if (!name.endsWith(host.slice(1))) continue;
      if (name.startsWith('*.')) wild.add(name);
      else exact.add(name);
    }
  }
  if (exact.size === 0 && wild.size === 0) return undefined;
  const wildRegexes = [...wild].map((w) => `[a-z0-9-]+${regexEscape(w.slice(1))}`);
  return {
    serverNames: [...exact, ...wildRegexes.map((r) => `~^${r}$`)],
    pattern: `^(${[...[...exact].map(regexEscape), ...wildRegexes].join('|')})$`,
  };
}

/** One app's upstream and server blocks: Pier's own rendering, which plugins may change (proxy-config-render). */
export function renderApp(templates: NginxTemplates, pages: Pages, layout: PlaneLayout, snapshot: AppSnapshot, tls?: AppTls): string {
  const s = snapshot.settings;
  const hosts = snapshot.hosts.filter((h) => NGINX_HOST.test(h));
  const secure = tls && layout.https ? tlsServerNames(hosts, tls.names.filter((n) => NGINX_HOST.test(n))) : undefined;
  const port = layout.https && layout.https.port !== 443 ? `:${layout.https.port}` : '';
  const plain = {
    listen: layout.listen,
    names: hosts,
    tls: false,
    // false, not undefined: strict templates refuse a missing field, even in #if.
    redirect: secure && s.httpsOnly ? { pattern: secure.pattern, port } : false,
    hsts: false,
    pages: pageLocations(pages, snapshot.app, s, '  '),
  };
  const hsts = s.hsts ? `max-age=${s.hstsMaxAgeSec}` : false;
  const servers = secure
    ? [plain, { listen: `${layout.https!.listen} ssl`, names: secure.serverNames, tls: { file: tls!.file }, redirect: false, hsts, pages: pageLocations(pages, snapshot.app, s, '  ', hsts) }]
    : [plain];
  return templates.app({
    app: snapshot.app,
    upstreamName: upstreamName(snapshot.app),
    servers,
    upstreams: snapshot.upstreams.filter((u) => NGINX_UPSTREAM.test(u)),
    leastConnections: s.loadBalancing === 'least-connections',
    keepalive: layout.keepalive,
    idleTimeoutSec: Math.ceil(s.idleTimeoutMs / 1000),
    // nginx reads 0 as "no limit"; Pier's 0 means no body at all, the nearest nginx has is one byte.
    maxBodyBytes: Math.max(1, s.maxBodyBytes),
    connectTimeoutMs: s.connectTimeoutMs,
    responseTimeoutMs: s.responseTimeoutMs,
    accessLog: s.accessLog,
    maintenance: snapshot.maintenance
      ? {
          retryAfterSec: snapshot.maintenance.retryAfterSec,
          page: nginxPageString(
            pages.render('maintenance', { host: HOST_MARK, app: snapshot.app, requestId: REQUEST_ID_MARK, settings: s, retryAfterSec: snapshot.maintenance.retryAfterSec }),
          ),
        }
      : false,
  });
}

export interface MainView {
  generation: number;
  /** Global settings: the default server (unknown hosts) and the limits nginx applies before it knows the host. */
  settings: ProxySettings;
  /** Each app's rendered blocks, in order. */
  apps: string[];
}

/** The whole nginx.conf. */
export function renderMain(templates: NginxTemplates, pages: Pages, layout: PlaneLayout, view: MainView): string {
  return templates.main({
    generation: view.generation,
    dir: layout.dir,
    workers: layout.workers,
    shutdownTimeoutSec: SHUTDOWN_TIMEOUT_SEC,
    control: controlSocket(layout.dir),
    // The inherited socket is dual-stack when it is IPv6; the options must say so, or nginx would not take it.
    listen: dualStack(layout.listen),
    https: layout.https ? { listen: `${dualStack(layout.https.listen)} ssl` } : false,
    accessLog: layout.accessLog ? { file: accessLogFile(layout.dir), maxField: MAX_LOGGED_FIELD } : false,
    trustedProxies: layout.trustedProxies,
    maxHeaderBytes: view.settings.maxHeaderBytes,
    clientHeaderTimeoutSec: Math.ceil(DEFAULT_TIMEOUTS.headerMs / 1000),
    clientBodyTimeoutSec: Math.ceil(DEFAULT_TIMEOUTS.bodyIdleMs / 1000),
    idleTimeoutSec: Math.ceil(view.settings.idleTimeoutMs / 1000),
    pages: pageLocations(pages, undefined, view.settings, '    '),
    apps: view.apps,
  });
}

const dualStack = (listen: string) => (listen.startsWith('[') ? `${listen} ipv6only=off` : listen);

/** Old workers finishing their requests after a reload or stop get this long before nginx closes them. */
export const SHUTDOWN_TIMEOUT_SEC = 30;

export const controlSocket = (dir: string) => `${dir}/control.sock`;

export const accessLogFile = (dir: string) => `${dir}/access.log`;

/** An app's certificate file as nginx reads it: the chain, then the key. */
export const certFileContent = (stored: StoredCertificate): string => `${stored.certPem.trimEnd()}\n${stored.keyPem.trimEnd()}\n`;
