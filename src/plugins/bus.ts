import { EVENT_KINDS, PIPELINE_RESULTS, type EventName, type EventPayload } from './events.js';
import { PluginFailure } from './errors.js';

/** One plugin's handler of an event, in the order handlers run. Its rejection's message names the plugin. */
export interface EventHandler {
  plugin: string;
  call(payload: unknown): Promise<unknown>;
}

/**
 * Runs an event's handlers one after the other, in the order given (see runOrder), with the
 * semantics of the event's kind. Resolves with the payload as the last handler left it (only
 * pipeline events change it); a veto event rejects with the first failure.
 */
export async function dispatch<E extends EventName>(
  event: E,
  handlers: EventHandler[],
  payload: EventPayload<E>,
  warn: (message: string) => void,
): Promise<EventPayload<E>> {
  const kind = EVENT_KINDS[event];
  let current = payload;
  for (const handler of handlers) {
    let result: unknown;
    try {
      result = await handler.call(current);
    } catch (err) {
      if (kind === 'veto') throw err instanceof PluginFailure ? err : new PluginFailure((err as Error).message);
      warn((err as Error).message);
      continue;
    }
    if (kind !== 'pipeline') continue;
    const checked = PIPELINE_RESULTS[event]!.safeParse(result);
    if (checked.success) current = { ...current, ...checked.data };
    else {
      const issue = checked.error.issues[0]!;
      warn(`plugin "${handler.plugin}" failed in ${event}: its result is not valid (${[...issue.path, ''].join(': ')}${issue.message}), so it was ignored`);
    }
  }
  return current;
}
