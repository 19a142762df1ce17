import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Settings } from '../../settings.js';
import type { State } from '../../state/index.js';
import { NGINX_KEEPALIVE } from '../data-planes.js';
import { loadPages } from '../pages.js';
import { RouteTable } from '../route-table.js';
import { locateReason, renderAppWith, syntaxProblem, templateProblem, templateVariants, withBlocks } from './app-template.js';
import { builtinTemplates, certFileContent, compileTemplate, renderApp, renderMain, templatesDir, type AppTls, type PlaneLayout } from './nginx-config.js';
import { NginxMissingError, nginxTest } from './nginx-master.js';

const exec = promisify(execFile);
const OPENSSL_TIMEOUT_MS = 10_000;

/** A template refused by its check; the message names the problem and the fix. */
export class TemplateRefused extends UserError {}

/** The built-in template of every app without one of its own. */
export const builtinAppTemplateFile = `${templatesDir}/app.conf.hbs`;

/**
 * Checks an app's own nginx template before it is stored (`pier proxy:template`), in the API process:
 * handlebars renders it in every state the app may be in, and nginx -t checks the whole configuration
 * with the app's blocks from it, in a prefix of its own (the live nginx and its files are not touched).
 */
export class AppTemplateChecker {
  constructor(private readonly deps: { state: State; settings: Settings; log: Logger; binary?: string }) {}

  readonly builtinFile = builtinAppTemplateFile;

  builtin(): Promise<string> {
    return readFile(builtinAppTemplateFile, 'utf8');
  }

  /** Resolves with the states checked when the template may be stored; throws TemplateRefused saying why not. */
  async check(app: string, source: string): Promise<string[]> {
    const refuse = (problem: string): never => {
      throw new TemplateRefused(`${app}'s nginx template was refused: ${problem}. Fix it and run pier proxy:template ${app} FILE again; nothing was changed.`);
    };
    const syntax = syntaxProblem(source);
    if (syntax) refuse(`it does not parse: ${syntax}`);
    const { state, settings, log } = this.deps;
    const binary = this.deps.binary ?? 'nginx';
    const templates = builtinTemplates();
    const template = compileTemplate(source);
    const pages = await loadPages(path.join(settings.home, 'templates'), log);
    const table = new RouteTable(state, settings.domain);
    await table.load();
    const snapshots = table.snapshot();
    const index = snapshots.findIndex((s) => s.app === app);
    const snapshot = snapshots[index] ?? { app, hosts: [`${app}.${settings.domain}`], upstreams: [], settings: table.settings(app), maintenance: undefined };
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pier-nginx-check-'));
    try {
      const layout: PlaneLayout = {
        dir,
        // nginx -t binds these to check them and lets a port in use pass: the router (or nginx) holds them.
        listen: `0.0.0.0:${settings.httpPort}`,
        https: { listen: `0.0.0.0:${settings.httpsPort}`, port: settings.httpsPort },
        workers: '1',
        trustedProxies: settings.trustedProxies,
        keepalive: NGINX_KEEPALIVE,
      };
      const tls = await this.certificate(app, dir);
      // Other apps as the plane renders them, minus HTTPS (their certificate files are the plane's).
      const render = async (s: (typeof snapshots)[number]) => renderAppWith(templates, await state.proxy.template(s.app), pages, layout, s, undefined).config;
      const rendered = await Promise.all(snapshots.map((s) => (s.app === app ? '' : render(s))));
      const at = index === -1 ? rendered.length : index;
      const others = { before: rendered.slice(0, at), after: rendered.slice(at + 1) };
      const variants = templateVariants(snapshot, tls, tls ? undefined : await sampleCertificate(app, dir, snapshot.hosts));
      for (const v of variants) {
        let blocks = '';
        try {
          blocks = renderApp({ ...templates, app: template }, pages, layout, v.snapshot, v.tls);
        } catch (err) {
          refuse(`it does not render ${v.label}: ${templateProblem(err)}`);
        }
        if (!v.nginx) continue;
        const { config, firstLine } = withBlocks((apps) => renderMain(templates, pages, layout, { generation: 0, settings: table.settings(undefined), apps }), others, blocks);
        const file = `${dir}/nginx.conf`;
        await writeFile(file, config, { mode: 0o600 });
        const reasons = await nginxTest(binary, dir, file).catch((err: unknown) => {
          if (err instanceof NginxMissingError) {
            throw new UserError(`nginx is needed to check the template, and ${binary} could not run: install it (PIER_INSTALL_NGINX=1 ./install.sh), then run pier proxy:template ${app} FILE again; nothing was changed.`);
          }
          throw err;
        });
        if (reasons) refuse(`nginx -t refused the configuration ${v.label}: ${reasons.map((r) => locateReason(r, file, config, firstLine, blocks, source)).join('; ')}`);
      }
      return variants.map((v) => v.label);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The app's certificate as nginx -t reads it, in the check's own folder (removed with it). */
  private async certificate(app: string, dir: string): Promise<AppTls | undefined> {
    const stored = await this.deps.state.certs.get(app);
    if (!stored) return undefined;
    await mkdir(`${dir}/certs`, { recursive: true, mode: 0o700 });
    const file = `${dir}/certs/${app}.pem`;
    await writeFile(file, certFileContent(stored), { mode: 0o600 });
    return { file, names: stored.facts.names };
  }
}

/**
 * A throwaway self-signed certificate, so nginx -t also checks the HTTPS server the template renders
 * once the app gets a certificate. Without openssl only handlebars checks that state.
 */
async function sampleCertificate(app: string, dir: string, hosts: string[]): Promise<{ tls: AppTls; readable: boolean }> {
  const base = `${dir}/certs/${app}-sample`;
  const tls = { file: `${base}.pem`, names: hosts };
  await mkdir(`${dir}/certs`, { recursive: true, mode: 0o700 });
  try {
    // EC keys take milliseconds to make; the certificate lives for this check only.
    await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=pier-template-check', '-days', '1', '-keyout', `${base}.key`, '-out', `${base}.crt`], { timeout: OPENSSL_TIMEOUT_MS });
    await writeFile(tls.file, (await readFile(`${base}.crt`, 'utf8')) + (await readFile(`${base}.key`, 'utf8')), { mode: 0o600 });
    return { tls, readable: true };
  } catch {
    return { tls, readable: false };
  }
}
