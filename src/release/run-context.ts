import type { RunContext } from '../scheduler/scheduler.js';
import { desiredFormation } from '../state/formation-store.js';
import type { State } from '../state/index.js';
import type { Release } from '../state/release-store.js';

/** Everything besides the release that decides how the app's containers run, read from state. */
export async function runContext(state: State, app: string, release: Release): Promise<RunContext> {
  const [scaled, settings, globalConfig, mounts] = await Promise.all([
    state.formations.get(app),
    state.processSettings.get(app),
    state.config.global(),
    state.storage.mounts(app),
  ]);
  const defaults = Object.fromEntries(Object.entries(release.appJson?.formation ?? {}).map(([type, f]) => [type, f.quantity]));
  const formation = desiredFormation(release.processTypes, scaled, defaults);
  // Stopped types (ps:stop) run nothing until ps:start.
  for (const type of Object.keys(formation)) {
    if (settings.stopped.includes('*') || settings.stopped.includes(type)) formation[type] = 0;
  }
  return { formation, settings, globalConfig, mounts };
}
