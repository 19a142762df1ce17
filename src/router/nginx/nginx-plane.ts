import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import type { Logger } from '../../log.js';
import { renderProxyConfig, type PluginEmitter } from '../../plugins/emitter.js';
import type { Pages } from '../pages.js';
import type { AppSnapshot, RouteTable } from '../route-table.js';
import type { StoredCertificate } from '../../state/cert-store.js';
import { renderApp, renderMain, type AppTls, type NginxTemplates, type PlaneLayout } from './nginx-config.js';
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
  lastError: string | undefined;
  /** Each app's upstreams in the configuration nginx serves. */
  private serving = new Map<string, string[]>();
  /** Certificate files written since the plane started; others under certs/ are from a previous run and rewritten. */
  private readonly certsWritten = new Set<string>();

  constructor(private readonly deps: NginxPlaneDeps) {
    this.master = new NginxMaster({ binary: deps.binary, dir: deps.layout.dir, log: deps.log, onExit: deps.onExit });
  }

  /** Starts nginx on the inherited listening sockets (HTTP, then HTTPS when the layout has it); resolves once it accepts. */
  async start(listenFds: readonly number[]): Promise<void> {
    try {
      const generation = ++this.generation;
      const { config, upstreams, certFiles } = await this.render(generation);
      await this.master.start(await this.master.validate(config), generation, listenFds);
      this.serving = upstreams;
      await this.removeStaleCerts(certFiles);
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  /** The table changed: resolves once nginx serves a configuration that includes the change (bursts share one reload). */
  changed(): Promise<void> {
    return this.queue.request();
  }

  /** The app's upstreams as nginx serves them now; undefined for an app it does not serve. */
  served(app: string): string[] | undefined {
    return this.serving.get(app);
  }

  async stop(): Promise<void> {
    await this.queue.idle();
    await this.master.stop();
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
      this.lastError = undefined;
      this.deps.log.debug({ generation, ms: Date.now() - started }, 'nginx reloaded');
    } catch (err) {
      this.lastError = (err as Error).message;
      // A plugin fixed or disabled since gets asked again.
      this.rendered.clear();
      this.deps.log.error({ generation, problem: this.lastError }, 'nginx configuration not loaded');
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
    for (const app of this.rendered.keys()) if (!snapshot.some((s) => s.app === app)) this.rendered.delete(app);
    return {
      config: renderMain(this.deps.templates, this.deps.pages, this.deps.layout, { generation, settings: this.deps.table.settings(undefined), apps }),
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
      await writeFile(file, `${stored.certPem.trimEnd()}\n${stored.keyPem.trimEnd()}\n`, { mode: 0o600 });
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
    const own = renderApp(this.deps.templates, this.deps.pages, this.deps.layout, snapshot, tls);
    const cached = this.rendered.get(snapshot.app);
    if (cached?.own === own) return cached.final;
    const final = await renderProxyConfig(this.deps.plugins, { app: snapshot.app, hosts: snapshot.hosts, upstreams: snapshot.upstreams, config: own }, (line) =>
      this.deps.log.warn({ app: snapshot.app }, line),
    );
    this.rendered.set(snapshot.app, { own, final });
    return final;
  }
}
