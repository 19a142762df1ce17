import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { hardenedHostConfig } from '../scheduler/docker-security.js';
import { DEFAULT_PORT } from '../scheduler/docker-scheduler.js';
import { parseProcfile, parseReleaseYaml } from '../validation.js';
import { BuildError, imageLabels, type Builder, type BuildRequest, type BuildResult } from './builder.js';
import { builtinBuildpacks, describeRef, parseBuildpackRef, parseBuildpacksFile, type BuildpackFetcher, type BuildpackRef } from './buildpack-source.js';
import { execInContainer, type ExecResult } from './docker-exec.js';

export const APP_UID = '1000:1000';

export interface BuildpackBuilderOptions {
  instance: string;
  stackImage: string;
  buildpacksDir: string;
  caBundle: string;
  /** Host folder under which per-build ENV_DIRs and custom buildpacks are created and removed. */
  workDir: string;
  npmRegistry: () => Promise<string>;
  imageRepository: (app: string) => string;
  cacheVolume: (app: string) => string;
  fetcher: BuildpackFetcher;
}

type Run = (cmd: string[], onLine?: (line: string) => void) => Promise<ExecResult>;

/** Where buildpacks run from in the build container: a tmpfs, so their `export` files and scratch never reach the image. */
const BP_RUN_DIR = '/tmp/pier/buildpacks';
const CUSTOM_MOUNT = '/pier/custom-buildpacks';

/** Runs Heroku-API buildpacks inside a container of the stack image and commits the result as the app image. */
export class BuildpackBuilder implements Builder {
  constructor(private readonly docker: Docker, private readonly opts: BuildpackBuilderOptions) {}

  async build(req: BuildRequest): Promise<BuildResult> {
    await this.assertStackImage();
    const envDir = path.join(this.opts.workDir, `env-${req.buildId}`);
    const customDir = path.join(this.opts.workDir, `buildpacks-${req.buildId}`);
    await this.writeEnvDir(envDir, req.config);
    await mkdir(customDir, { recursive: true, mode: 0o755 });
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
        NetworkMode: req.builder.network ?? 'bridge',
        Tmpfs: { '/tmp': 'rw,exec,nosuid,mode=1777' },
        Binds: [
          `${req.sourceTar}:/pier/source.tar:ro`,
          `${envDir}:/env:ro`,
          `${this.opts.buildpacksDir}:/buildpacks:ro`,
          `${customDir}:${CUSTOM_MOUNT}:ro`,
          `${this.opts.caBundle}:/etc/ssl/certs/ca-certificates.crt:ro`,
          `${this.opts.cacheVolume(req.app)}:/cache`,
        ],
      }),
    });
    try {
      await container.start();
      // Offline, package managers would retry the network for minutes before failing; told so, they fail at once.
      const env = [...(await this.buildEnv()), ...(req.builder.network === 'none' ? ['NPM_CONFIG_OFFLINE=true', 'NPM_CONFIG_FETCH_RETRIES=0'] : [])];
      const run: Run = (cmd, onLine) => execInContainer(this.docker, container, { cmd, user: APP_UID, env, onLine });
      if (req.builder.network === 'none') req.log('-----> Building offline (builder network: none): only the build cache is available');

      const unpacked = await run(['tar', '-xf', '/pier/source.tar', '-C', '/app']);
      if (unpacked.exitCode !== 0) throw new BuildError(`could not unpack the source: ${unpacked.output.trim()}`);

      const buildpacks = await this.prepareBuildpacks(req, run, customDir);
      let processTypes: Record<string, string> = {};
      for (const bp of buildpacks) {
        // As on Heroku, each buildpack's `export` file is sourced before the next one compiles.
        const compile = await run(
          ['bash', '-c', `for f in ${BP_RUN_DIR}/*/export; do [ -f "$f" ] && . "$f"; done; exec "$0" "$@"`, `${bp.dir}/bin/compile`, '/app', '/cache', '/env'],
          req.log,
        );
        if (compile.exitCode !== 0) throw new BuildError(`the ${bp.name} buildpack failed to compile the app (exit ${compile.exitCode}); the output above says why`);
        const released = await run(['sh', '-c', `[ ! -x "$1/bin/release" ] || exec "$1/bin/release" /app`, 'release', bp.dir]);
        if (released.exitCode !== 0) throw new BuildError(`the ${bp.name} buildpack's bin/release failed: ${released.output.trim()}`);
        processTypes = { ...processTypes, ...parseReleaseYaml(released.output) };
      }
      processTypes = { ...processTypes, ...(await this.procfile(run)) };
      req.log('-----> Discovering process types');
      req.log(`       Procfile declares types -> ${Object.keys(processTypes).join(', ') || '(none)'}`);

      await container.kill().catch(() => undefined);
      const repo = this.opts.imageRepository(req.app);
      const labels = Object.entries(imageLabels(this.opts.instance, req.app, req.buildId)).map(([k, v]) => `${k}=${v}`);
      req.log('-----> Compressing image');
      await container.commit({
        repo,
        tag: req.buildId,
        changes: [
          `USER ${APP_UID}`,
          'WORKDIR /app',
          'ENTRYPOINT ["/usr/local/bin/pier-launch"]',
          'CMD []',
          // Images inherit the build container's labels; pier.role must not say "build" on what runs from them.
          `LABEL ${labels.join(' ')}`,
        ],
      });
      return { image: `${repo}:${req.buildId}`, processTypes, runtime: { kind: 'buildpack', port: DEFAULT_PORT, user: APP_UID } };
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
      await rm(envDir, { recursive: true, force: true });
      await rm(customDir, { recursive: true, force: true });
    }
  }

  /**
   * The buildpacks to run, copied to a writable tmpfs: BUILDPACK_URL, else the app's .buildpacks
   * file, else the first built-in one whose bin/detect claims the app.
   */
  private async prepareBuildpacks(req: BuildRequest, run: Run, customDir: string): Promise<Array<{ name: string; dir: string }>> {
    const builtins = await builtinBuildpacks(this.opts.buildpacksDir);
    const dotfile = await run(['sh', '-c', 'test -f /app/.buildpacks && cat /app/.buildpacks']);
    let refs: BuildpackRef[] | undefined;
    if (req.config.BUILDPACK_URL) {
      refs = [parseBuildpackRef(req.config.BUILDPACK_URL, builtins)];
      req.log(`-----> Using the buildpack from BUILDPACK_URL`);
    } else if (dotfile.exitCode === 0) {
      refs = parseBuildpacksFile(dotfile.output, builtins);
      if (refs.length === 0) throw new BuildError('.buildpacks lists no buildpack. Add one per line, or delete the file to detect one.');
      req.log(`-----> Using the buildpacks listed in .buildpacks: ${refs.map(describeRef).join(', ')}`);
    }
    const explicit = refs !== undefined;
    const candidates = refs ?? builtins.map((builtin) => ({ builtin }));
    const chosen: Array<{ name: string; dir: string }> = [];
    for (const [index, ref] of candidates.entries()) {
      const dir = `${BP_RUN_DIR}/${String(index + 1).padStart(2, '0')}-${'builtin' in ref ? ref.builtin : 'custom'}`;
      let source = `/buildpacks/${'builtin' in ref ? ref.builtin : ''}`;
      if (!('builtin' in ref)) {
        await this.opts.fetcher.fetch(ref.url, ref.ref, path.join(customDir, String(index + 1)), req.log);
        source = `${CUSTOM_MOUNT}/${index + 1}`;
      }
      const copied = await run(['sh', '-c', 'mkdir -p "$(dirname "$2")" && cp -a "$1" "$2"', 'copy', source, dir]);
      if (copied.exitCode !== 0) throw new BuildError(`could not set up the buildpack ${describeRef(ref)}: ${copied.output.trim()}`);
      const detected = await run([`${dir}/bin/detect`, '/app']);
      const name = detected.output.trim().split('\n')[0] || describeRef(ref);
      if (detected.exitCode === 0) {
        req.log(`-----> ${name} app detected`);
        chosen.push({ name: describeRef(ref), dir });
        if (!explicit) break;
      } else if (explicit) {
        throw new BuildError(`the buildpack ${describeRef(ref)} does not apply to this app (its bin/detect said no). Fix the app, or pick another buildpack.`);
      }
    }
    if (chosen.length === 0) {
      throw new BuildError(
        `no buildpack detected this app (tried: ${builtins.join(', ')}). Add a package.json (Node.js), requirements.txt (Python), index.html (static) or a Procfile, or set one: pier config:set ${req.app} BUILDPACK_URL=<git url>`,
      );
    }
    return chosen;
  }

  private async procfile(run: Run) {
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
}
