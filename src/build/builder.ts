import type { AppJson } from '../app-json.js';
import type { BuilderSettings } from '../state/builder-store.js';
import type { ReleaseRuntime } from '../state/release-store.js';
import { UserError } from '../errors.js';

export interface BuildRequest {
  app: string;
  buildId: string;
  /** Host path of the tar archive of the app's source. */
  sourceTar: string;
  /** Config vars: buildpacks get them through ENV_DIR only, Dockerfile builds only those marked as build args. */
  config: Record<string, string>;
  builder: BuilderSettings;
  /** Receives every line of build output. */
  log: (line: string) => void;
  /** Aborted when the build is cancelled or times out. */
  signal: AbortSignal;
}

export interface BuildResult {
  image: string;
  processTypes: Record<string, string>;
  runtime: ReleaseRuntime;
  appJson?: AppJson;
}

export interface Builder {
  build(req: BuildRequest): Promise<BuildResult>;
}

/** A build that failed for a reason the user can fix; the message says how. */
export class BuildError extends UserError {}

/** Labels every image a build produces carries, so pruning, cleanup and destroy find them. */
export function imageLabels(instance: string, app: string, buildId: string): Record<string, string> {
  return { 'pier.instance': instance, 'pier.app': app, 'pier.build': buildId, 'pier.role': 'image' };
}
