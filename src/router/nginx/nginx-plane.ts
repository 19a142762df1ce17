import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import type { Logger } from '../../log.js';
import { renderProxyConfig, type PluginEmitter } from '../../plugins/emitter.js';
import type { Pages } from '../pages.js';
import type { AppSnapshot, RouteTable } from '../route-table.js';
import type { StoredCertificate } from '../../state/cert-store.js';
import { renderAppWith } from './app-template.js';
import { NginxAccessLog, type NginxAccessLogOptions } from './nginx-access-log.js';
import { accessLogFile, certFileContent, compileTemplate, renderMain, type AppTls, type NginxTemplates, type PlaneLayout } from './nginx-config.js';
import { NginxMaster } from './nginx-master.js';
import { CoalescingQueue } from './reload-queue.js';

export interface NginxPlaneDeps {
  table: RouteTable;
  plugins: PluginEmitter;
  pages: Pages;
  templates: NginxTemplates;
  layout: PlaneLayout;
  binary: string;
  log: Logger;
  /** The app's certificate, from the same store the built-in router serves (read at each render: a change publishes a route change). */
  certificate: (app: string) => Promise<StoredCertificate | undefined>;
  /** The app's own template (`pier proxy:template`), read at each render like the certificate; none: the built-in one for every app. */
  appTemplate?: (app: string) => Promise<string | undefined>;
  /** Where each request's access log line goes; none: nginx logs nothing. */
  accessLog?: NginxAccessLogOptions;
  /** nginx exited without being asked to. */
  onExit: () => void;
}

/**
 * nginx serving Pier's route table: every change renders the whole configuration (each app's blocks
 * through the proxy-config-render event, so plugins can change them), checks it with nginx -t, and
 * reloads gracefully. A refused configuration is never loaded: the one in force keeps serving.
 */
export class NginxPlane {
  private readonly master: NginxMaster;
  private readonly queue = new CoalescingQueue(() => this.apply());
  private generation = 0;
  /** Each app's blocks as Pier rendered them and as the plugins left them: plugins are asked again only when Pier's own changed. */
  private readonly rendered = new Map<string, { own: string; final: string }>();
  reloads = 0;
  /** The last start or reload failure; cleared by the next success. */
  private reloadError: string | undefined;
  /** Apps whose own template failed at the last render (the built-in one serves them), with the reason. */
  private readonly templateProblems = new Map<string, string>();
  /** Each app's own template, compiled once per source. */
  private readonly compiled = new Map<string, { source: string; template: ReturnType<typeof compileTemplate> }>();
  /** Each app's upstreams in the configuration nginx serves. */
  private serving = new Map<string, string[]>();
  /** Certificate files written since the plane started; others under certs/ are from a previous run and rewritten. */
  private readonly certsWritten = new Set<string>();
  private readonly accessLog: NginxAccessLog | undefined;
  private stopping = false;

  constructor(private readonly deps: NginxPlaneDeps) {
    this.accessLog = deps.accessLog && new NginxAccessLog(accessLogFile(deps.layout.dir), deps.accessLog, deps.log);
    // The lines its workers wrote before it died are still read.
    const onExit = () => {
      void (this.accessLog?.close() ?? Promise.resolve())
        .catch((err: unknown) => deps.log.warn({ err }, 'nginx access log: could not be closed'))
        .finally(deps.onExit);
    };
    this.master = new NginxMaster({ binary: deps.binary, dir: deps.layout.dir, log: deps.log, onExit });
  }

  /** Starts nginx on the inherited listening sockets (HTTP, then HTTPS when the layout has it); resolves once it accepts. */
  async start(listenFds: readonly number[]): Promise<void> {
    try {
      const generation = ++this.generation;
      const { config, upstreams, certFiles } = await this.render(generation);
      const validated = await this.master.validate(config);
      await this.accessLog?.prepare();
      await this.master.start(validated, generation, listenFds).catch(async (err: unknown) => {
        await this.accessLog?.close();
        throw err;
      });
      this.accessLog?.follow({
        // A reload, shared with route changes; none once stopping (the renamed file is read to its end at close all the same).
        reopen: () => void (this.stopping ? undefined : this.changed().catch(() => undefined)),
        holds: (file) => this.master.holds(file),
      });
      this.serving = upstreams;
      await this.removeStaleCerts(certFiles);
      this.reloadError = undefined;
    } catch (err) {
      this.reloadError = (err as Error).message;
      throw err;
    }
  }

  /** What `pier proxy:type` reports: the last reload failure, and each app its own template failed for. */
  get lastError(): string | undefined {
    const fallbacks = [...this.templateProblems].map(
      ([app, problem]) => `${app}'s nginx template failed (${problem}), so the built-in one serves it: fix it (pier proxy:template ${app} FILE) or reset it (pier proxy:template:reset ${app})`,
    );
    return [this.reloadError, ...fallbacks].filter((e) => e !== undefined).join('; ') || undefined;
  }

  /** The table changed: resolves once nginx serves a configuration that includes the change (bursts share one reload). */
  changed(): Promise<void> {
    return this.queue.request();
  }

  /**
   * Once every change asked for so far is served, or refused: nginx's reason when the configuration in force
   * lacks some of them (a refused reload stays the answer until one succeeds).
   */
  async settled(): Promise<string | undefined> {
    await this.queue.latest().catch(() => undefined);
    return this.reloadError;
  }

  /** The app's upstreams as nginx serves them now; undefined for an app it does not serve. */
  served(app: string): string[] | undefined {
    return this.serving.get(app);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.queue.idle();
    await this.master.stop();
    await this.accessLog?.close();
  }

  private async apply(): Promise<void> {
    const started = Date.now();
    const generation = ++this.generation;
    try {
      const { config, upstreams, certFiles } = await this.render(generation);
      await this.master.reload(await this.master.validate(config), generation);
      this.serving = upstreams;
      await this.removeStaleCerts(certFiles);
      this.reloads++;
      this.reloadError = undefined;
      this.deps.log.debug({ generation, ms: Date.now() - started }, 'nginx reloaded');
    } catch (err) {
      this.reloadError = (err as Error).message;
      // A plugin fixed or disabled since gets asked again.
      this.rendered.clear();
      this.deps.log.error({ generation, problem: this.reloadError }, 'nginx configuration not loaded');
      throw err;
    }
  }

  private async render(generation: number): Promise<{ config: string; upstreams: Map<string, string[]>; certFiles: Set<string> }> {
    const snapshot = this.deps.table.snapshot();
    const certFiles = new Set<string>();
    const apps = await Promise.all(
      snapshot.map(async (s) => {
        const tls = await this.certFile(s.app);
        if (tls) certFiles.add(tls.file);
        return this.renderApp(s, tls);
      }),
    );
    for (const cache of [this.rendered, this.templateProblems, this.compiled]) {
      for (const app of cache.keys()) if (!snapshot.some((s) => s.app === app)) cache.delete(app);
    }
    return {
      config: renderMain(this.deps.templates, this.deps.pages, { ...this.deps.layout, accessLog: this.accessLog !== undefined }, { generation, settings: this.deps.table.settings(undefined), apps }),
      upstreams: new Map(snapshot.map((s) => [s.app, s.upstreams])),
      certFiles,
    };
  }

  private get certsDir(): string {
    return `${this.deps.layout.dir}/certs`;
  }

  /**
   * The app's certificate as a file nginx reads (chain, then key; mode 0600 in a 0700 folder), named by its
   * fingerprint: a replaced certificate is a new file, so a configuration nginx refuses never changes the
   * files the one in force names.
   */
  private async certFile(app: string): Promise<AppTls | undefined> {
    if (!this.deps.layout.https) return undefined;
    const stored = await this.deps.certificate(app);
    if (!stored) return undefined;
    const file = `${this.certsDir}/${app}-${stored.facts.fingerprint.replace(/[^0-9A-Fa-f]/g, '').slice(0, 16).toLowerCase()}.pem`;
    if (!this.certsWritten.has(file)) {
      await mkdir(this.certsDir, { recursive: true, mode: 0o700 });
      await writeFile(file, certFileContent(stored), { mode: 0o600 });
      this.certsWritten.add(file);
    }
    return { file, names: stored.facts.names };
  }

  /** Once a configuration is in force, the certificate files it no longer names go (keys do not linger on disk). */
  private async removeStaleCerts(inUse: Set<string>): Promise<void> {
    const files = await readdir(this.certsDir).catch(() => [] as string[]);
    for (const name of files) {
      const file = `${this.certsDir}/${name}`;
      if (inUse.has(file)) continue;
      this.certsWritten.delete(file);
      await rm(file, { force: true });
    }
  }

  private async renderApp(snapshot: AppSnapshot, tls: AppTls | undefined): Promise<string> {
    const { config: own, problem } = renderAppWith(this.deps.templates, await this.deps.appTemplate?.(snapshot.app), this.deps.pages, this.deps.layout, snapshot, tls, (source) =>
      this.compile(snapshot.app, source),
    );
    this.noteTemplate(snapshot.app, problem);
    const cached = this.rendered.get(snapshot.app);
    if (cached?.own === own) return cached.final;
    const final = await renderProxyConfig(this.deps.plugins, { app: snapshot.app, hosts: snapshot.hosts, upstreams: snapshot.upstreams, config: own }, (line) =>
      this.deps.log.warn({ app: snapshot.app }, line),
    );
    this.rendered.set(snapshot.app, { own, final });
    return final;
  }

  private compile(app: string, source: string): ReturnType<typeof compileTemplate> {
    const cached = this.compiled.get(app);
    if (cached?.source === source) return cached.template;
    const template = compileTemplate(source);
    this.compiled.set(app, { source, template });
    return template;
  }

  /** Logged when it starts failing or fails differently, not at every reload. */
  private noteTemplate(app: string, problem: string | undefined): void {
    if (problem === undefined) {
      this.templateProblems.delete(app);
      return;
    }
    if (this.templateProblems.get(app) !== problem) this.deps.log.error({ app, problem }, "the app's own nginx template failed; the built-in one serves it");
    this.templateProblems.set(app, problem);
  }
}
