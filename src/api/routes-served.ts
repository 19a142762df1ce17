import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { State } from '../state/index.js';
import { ROUTES_SERVED_TIMEOUT_MS } from '../state/route-store.js';

/**
 * After an operation changed what routers serve: returns once a router serves it, so the next request sees it.
 * The nginx plane refusing the configuration the change makes is the operation's error; the previous one keeps serving.
 */
export async function routesServed(state: State, log: Logger): Promise<void> {
  const outcome = await state.routes.served(ROUTES_SERVED_TIMEOUT_MS);
  if (outcome.served === 'unconfirmed') log.warn(`no router confirmed a route change within ${ROUTES_SERVED_TIMEOUT_MS / 1000} s; is one running?`);
  if (outcome.served === false) {
    throw new UserError(
      `The change is saved, but nginx refused the configuration it makes (${outcome.error}), so the previous configuration keeps serving. ` +
        'Undo the change, or fix what nginx names; pier proxy:type shows the error until nginx accepts a configuration.',
    );
  }
}
