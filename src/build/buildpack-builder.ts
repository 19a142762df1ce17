import { chown, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { hardenedHostConfig } from '../scheduler/docker-security.js';
import { parseProcfile, parseReleaseYaml } from '../validation.js';
import { execInContainer } from './docker-exec.js';

export const APP_UID = '1000:1000';

export interface BuildRequest {
  app: string;
  buildId: string;
  /** Host path of the tar archive of the pushed commit. */
  sourceTar: string;
  /** Config vars, handed to buildpacks through ENV_DIR only. */
  config: Record<string, string>;
  /** Receives every line of build output. */
  log: (line: string) => void;
}

export interface BuildResult {
  image: string;
  processTypes: Record<string, string>;
}

export interface BuilderOptions {
  instance: string;
  stackImage: string;
  buildpacksDir: string;
  caBundle: string;
  /** Host folder under which per-build ENV_DIRs are created and removed. */
  workDir: string;
  npmRegistry: () => Promise<string>;
}

export class BuildError extends Error {}

/** Runs Heroku-API buildpacks inside a container of the stack image and commits the result as the app image. */
export class BuildpackBuilder {
  constructor(private readonly docker: Docker, private readonly opts: BuilderOptions) {}

  imageRepository(app: string): string {
    return `${this.opts.instance}/app-${app}`;
  }

  cacheVolume(app: string): string {
    return `${this.opts.instance}-cache-${app}`;
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    await this.assertStackImage();
    const envDir = path.join(this.opts.workDir, `env-${req.buildId}`);
    await this.writeEnvDir(envDir, req.config);
    // Build steps run as the app user, which must be able to read the pushed source.
    await chown(req.sourceTar, 1000, 1000);
    const container = await this.docker.createContainer({
      Image: this.opts.stackImage,
      Cmd: ['sleep', 'infinity'],
      User: APP_UID,
      WorkingDir: '/app',
      Labels: { 'pier.instance': this.opts.instance, 'pier.app': req.app, 'pier.role': 'build', 'pier.build': req.buildId },
      HostConfig: hardenedHostConfig({
        Init: true,
        Binds: [
          `${req.sourceTar}:/pier/source.tar:ro`,
          `${envDir}:/env:ro`,
          `${this.opts.buildpacksDir}:/buildpacks:ro`,
          `${this.opts.caBundle}:/etc/ssl/certs/ca-certificates.crt:ro`,
          `${this.cacheVolume(req.app)}:/cache`,
        ],
      }),
    });
    try {
      await container.start();
      const env = await this.buildEnv();
      const run = (cmd: string[], onLine?: (l: string) => void) =>
        execInContainer(this.docker, container, { cmd, user: APP_UID, env, onLine });

      const unpacked = await run(['tar', '-xf', '/pier/source.tar', '-C', '/app']);
      if (unpacked.exitCode !== 0) throw new BuildError(`could not unpack the pushed source: ${unpacked.output.trim()}`);

      const buildpack = await this.detect(run, req.log);
      const compile = await run([`/buildpacks/${buildpack}/bin/compile`, '/app', '/cache', '/env'], req.log);
      if (compile.exitCode !== 0) throw new BuildError(`the ${buildpack} buildpack failed to compile the app (exit ${compile.exitCode})`);

      const released = await run([`/buildpacks/${buildpack}/bin/release`, '/app']);
      if (released.exitCode !== 0) throw new BuildError(`the ${buildpack} buildpack's bin/release failed: ${released.output.trim()}`);
      const processTypes = { ...parseReleaseYaml(released.output), ...(await this.procfile(run)) };
      req.log('-----> Discovering process types');
      req.log(`       Procfile declares types -> ${Object.keys(processTypes).join(', ') || '(none)'}`);

      await container.kill().catch(() => undefined);
      const image = `${this.imageRepository(req.app)}:${req.buildId}`;
      req.log('-----> Compressing image');
      await container.commit({
        repo: this.imageRepository(req.app),
        tag: req.buildId,
        changes: [
          `USER ${APP_UID}`,
          'WORKDIR /app',
          'ENTRYPOINT ["/usr/local/bin/pier-launch"]',
          'CMD []',
          // Images inherit the build container's labels; pier.role must not say "build" on what runs from them.
          `LABEL pier.instance=${this.opts.instance} pier.app=${req.app} pier.build=${req.buildId} pier.role=image`,
        ],
      });
      return { image, processTypes };
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
      await rm(envDir, { recursive: true, force: true });
    }
  }

  private async detect(
    run: (cmd: string[]) => Promise<{ exitCode: number; output: string }>,
    log: (line: string) => void,
  ): Promise<string> {
    const buildpacks = (await readdir(this.opts.buildpacksDir)).sort();
    for (const bp of buildpacks) {
      const result = await run([`/buildpacks/${bp}/bin/detect`, '/app']);
      if (result.exitCode === 0) {
        log(`-----> ${result.output.trim() || bp} app detected`);
        return bp;
      }
    }
    throw new BuildError(
      `no buildpack detected this app (tried: ${buildpacks.join(', ')}). Add a package.json for a Node.js app.`,
    );
  }

  private async procfile(run: (cmd: string[]) => Promise<{ exitCode: number; output: string }>) {
    const result = await run(['sh', '-c', 'test -f /app/Procfile && cat /app/Procfile || true']);
    try {
      return parseProcfile(result.output);
    } catch (err) {
      throw new BuildError(`${(err as Error).message}. Fix the Procfile and push again.`);
    }
  }

  /** Environment of build steps only; exec env never reaches the committed image. */
  private async buildEnv(): Promise<string[]> {
    const ca = '/etc/ssl/certs/ca-certificates.crt';
    return [
      `NPM_CONFIG_REGISTRY=${await this.opts.npmRegistry()}`,
      `SSL_CERT_FILE=${ca}`,
      `NODE_EXTRA_CA_CERTS=${ca}`,
      `GIT_SSL_CAINFO=${ca}`,
      'STACK=pier-bookworm',
      'HOME=/app',
    ];
  }

  private async writeEnvDir(dir: string, config: Record<string, string>): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, 1000, 1000);
    for (const [key, value] of Object.entries(config)) {
      const file = path.join(dir, key);
      await writeFile(file, value, { mode: 0o400 });
      await chown(file, 1000, 1000);
    }
  }

  private async assertStackImage(): Promise<void> {
    try {
      await this.docker.getImage(this.opts.stackImage).inspect();
    } catch {
      throw new BuildError(`the stack image ${this.opts.stackImage} is missing. Run ./install.sh to build it.`);
    }
  }

  async removeBuildContainers(buildId: string): Promise<void> {
    const label = [`pier.instance=${this.opts.instance}`, `pier.build=${buildId}`, 'pier.role=build'];
    for (const c of await this.docker.listContainers({ all: true, filters: { label } })) {
      await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
  }

  async removeImages(app: string): Promise<void> {
    const images = await this.docker.listImages({ filters: { reference: [`${this.imageRepository(app)}:*`] } });
    for (const img of images) await this.docker.getImage(img.Id).remove({ force: true }).catch(() => undefined);
    await this.docker.getVolume(this.cacheVolume(app)).remove().catch(() => undefined);
  }
}

