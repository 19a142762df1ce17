import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { DEFAULT_PORT } from '../scheduler/docker-scheduler.js';
import { parseProcfile } from '../validation.js';
import { BuildError, imageLabels, type Builder, type BuildRequest, type BuildResult } from './builder.js';
import { DockerBuildStream } from './docker-build-stream.js';
import { parseDockerfile } from './dockerfile.js';
import { listArchive, readArchiveFile } from './source-archive.js';

/** How long a pull of a missing FROM image may take before the build gives up on it. */
const PULL_TIMEOUT_MS = 60_000;
const APP_USER = '1000:1000';

export interface DockerfileBuilderOptions {
  instance: string;
  imageRepository: (app: string) => string;
}

/** Builds an app from the Dockerfile at its root through Docker's build API (no registry needed). */
export class DockerfileBuilder implements Builder {
  constructor(private readonly docker: Docker, private readonly opts: DockerfileBuilderOptions) {}

  async build(req: BuildRequest): Promise<BuildResult> {
    const members = await listArchive(req.sourceTar);
    const dockerfile = await readArchiveFile(req.sourceTar, members, 'Dockerfile');
    if (dockerfile === undefined) {
      throw new BuildError(`the app has no Dockerfile at its root, but its builder is set to dockerfile. Add one, or switch: pier builder:set ${req.app} buildpacks`);
    }
    const buildArgs = this.buildArgs(req);
    const facts = parseDockerfile(dockerfile, buildArgs);
    for (const base of facts.baseImages) await this.ensureImage(base, req.log);

    const tag = `${this.opts.imageRepository(req.app)}:${req.buildId}`;
    req.log('-----> Building the Dockerfile');
    if (Object.keys(buildArgs).length > 0) req.log(`       Build args: ${Object.keys(buildArgs).join(', ')}`);
    const stream = new DockerBuildStream((line) => req.log(/^Step \d+\/\d+ :/.test(line) ? `-----> ${line}` : `       ${line}`));
    const response = (await this.docker.buildImage(createReadStream(req.sourceTar), {
      t: tag,
      buildargs: buildArgs,
      labels: imageLabels(this.opts.instance, req.app, req.buildId),
      rm: true,
      forcerm: true,
    })) as Readable;
    await follow(response, stream, req.signal);
    if (req.signal.aborted) throw new BuildError('the Dockerfile build was stopped');
    if (stream.error) throw new BuildError(`the Dockerfile build failed: ${stream.error}`);

    const config = (await this.docker.getImage(tag).inspect()).Config;
    const procfile = await this.procfile(req.sourceTar, members);
    const hasDefaultCommand = (config.Cmd?.length ?? 0) > 0 || (config.Entrypoint?.length ?? 0) > 0;
    if (procfile.web === undefined && !hasDefaultCommand) {
      throw new BuildError('the image has no CMD or ENTRYPOINT and the app has no Procfile "web:" line: add CMD to the Dockerfile.');
    }
    const exposed = Object.keys(config.ExposedPorts ?? {}).map((p) => Number.parseInt(p, 10)).sort((a, b) => a - b);
    const port = facts.exposedPort ?? exposed[0] ?? DEFAULT_PORT;
    const user = this.runUser(config.User, req.log);
    req.log(`       Image ${tag}: listens on PORT=${port}, runs as ${user}`);
    return { image: tag, processTypes: { web: '', ...procfile }, runtime: { kind: 'image', port, user } };
  }

  private buildArgs(req: BuildRequest): Record<string, string> {
    const args: Record<string, string> = {};
    for (const key of req.builder.buildArgs) if (key in req.config) args[key] = req.config[key]!;
    return args;
  }

  /** Pier never runs apps as root: no USER gets Pier's app user, an explicit root is refused. */
  private runUser(user: string | undefined, log: (line: string) => void): string {
    const name = (user ?? '').trim();
    if (name === '') {
      log(`       The Dockerfile sets no USER; the app runs as ${APP_USER} (set USER to choose another non-root user).`);
      return APP_USER;
    }
    if (/^(root|0)(:.*)?$/.test(name)) {
      throw new BuildError(`the Dockerfile runs as USER ${name}; Pier runs apps as non-root users only. Use a non-root USER (e.g. "USER 1000:1000").`);
    }
    return name;
  }

  private async procfile(tar: string, members: string[]): Promise<Record<string, string>> {
    const text = await readArchiveFile(tar, members, 'Procfile');
    if (text === undefined) return {};
    try {
      return parseProcfile(text);
    } catch (err) {
      throw new BuildError(`${(err as Error).message}. Fix the Procfile and push again.`);
    }
  }

  /** A FROM image must be local, or pullable; without a registry the error lists what is local. */
  private async ensureImage(image: string, log: (line: string) => void): Promise<void> {
    if (await this.docker.getImage(image).inspect().then(() => true, () => false)) return;
    log(`-----> ${image} is not a local image; trying to pull it`);
    const pulled = await this.pull(image).then(() => undefined, (err: Error) => err.message);
    if (pulled === undefined) return;
    const local = (await this.docker.listImages())
      .flatMap((i) => i.RepoTags ?? [])
      .filter((t) => t !== '<none>:<none>' && !t.startsWith(`${this.opts.instance}/app-`))
      .sort();
    throw new BuildError(
      [
        `the Dockerfile starts FROM ${image}, which is not on this machine and could not be pulled (${pulled.split('\n')[0]}).`,
        `Local images you can build FROM: ${local.join(', ') || '(none)'}.`,
        'Use one of them, or load the image first (docker load < image.tar).',
      ].join('\n'),
    );
  }

  private async pull(image: string): Promise<void> {
    const stream = (await this.docker.pull(image)) as Readable;
    const failure = new DockerBuildStream(() => undefined);
    const timer = setTimeout(() => stream.destroy(new Error(`no answer within ${PULL_TIMEOUT_MS / 1000}s`)), PULL_TIMEOUT_MS);
    try {
      await follow(stream, failure);
    } finally {
      clearTimeout(timer);
    }
    if (failure.error) throw new Error(failure.error);
  }
}

/** Feeds a Docker JSON stream to the parser until it ends; aborting the signal cancels the build. */
function follow(response: Readable, parser: DockerBuildStream, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // Docker stops a build whose client goes away.
    const abort = () => response.destroy();
    signal?.addEventListener('abort', abort, { once: true });
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => parser.push(chunk));
    const done = (err?: Error) => {
      signal?.removeEventListener('abort', abort);
      parser.end();
      if (err && !signal?.aborted) reject(err);
      else resolve();
    };
    response.on('end', () => done());
    response.on('close', () => done());
    response.on('error', done);
  });
}
