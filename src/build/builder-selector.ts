import type { BuilderChoice } from '../state/builder-store.js';
import { parseAppJson, type AppJson } from '../app-json.js';
import { BuildError, type Builder, type BuildRequest, type BuildResult } from './builder.js';
import { listArchive, readArchiveFile, rootMember } from './source-archive.js';

export interface SelectionInput {
  selected?: BuilderChoice;
  hasDockerfile: boolean;
  hasBuildpacksFile: boolean;
  buildpackUrl?: string;
}

/**
 * Which builder builds the app, and why, in Dokku's order: the app's explicit choice; buildpacks
 * the app names (BUILDPACK_URL, .buildpacks); a Dockerfile at the root; detected buildpacks.
 */
export function selectBuilder(input: SelectionInput): { builder: BuilderChoice; reason: string } {
  if (input.selected) return { builder: input.selected, reason: 'set with pier builder:set' };
  if (input.buildpackUrl) return { builder: 'buildpacks', reason: 'BUILDPACK_URL is set' };
  if (input.hasBuildpacksFile) return { builder: 'buildpacks', reason: '.buildpacks lists them' };
  if (input.hasDockerfile) return { builder: 'dockerfile', reason: 'Dockerfile at the root' };
  return { builder: 'buildpacks', reason: 'no Dockerfile' };
}

/** Hands each build to the Dockerfile or the buildpack builder. */
export class BuilderSelector implements Builder {
  constructor(private readonly builders: Record<BuilderChoice, Builder>) {}

  async build(req: BuildRequest): Promise<BuildResult> {
    const members = await listArchive(req.sourceTar);
    const { builder, reason } = selectBuilder({
      selected: req.builder.selected,
      hasDockerfile: rootMember(members, 'Dockerfile') !== undefined,
      hasBuildpacksFile: rootMember(members, '.buildpacks') !== undefined,
      buildpackUrl: req.config.BUILDPACK_URL,
    });
    // app.json is read first, so a broken one fails the build before minutes of work.
    const appJsonText = await readArchiveFile(req.sourceTar, members, 'app.json');
    let appJson: AppJson | undefined;
    try {
      appJson = appJsonText === undefined ? undefined : parseAppJson(appJsonText);
    } catch (err) {
      throw new BuildError((err as Error).message);
    }
    req.log(`-----> Builder: ${builder} (${reason})`);
    return { ...(await this.builders[builder].build(req)), appJson };
  }
}
