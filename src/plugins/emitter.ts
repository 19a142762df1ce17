import type { ProgressFn } from '../scheduler/scheduler.js';
import type { EventName, EventPayload } from './events.js';

/**
 * What the core's services hold to emit lifecycle events. Veto events (pre-build, pre-release)
 * reject with the first failing handler's error, which fails the operation; the others never
 * reject: failures become warnings through `progress`, as do the lines handlers print.
 * Resolves with the payload as the handlers left it (only pipeline events change it).
 */
export interface PluginEmitter {
  emit<E extends EventName>(event: E, payload: EventPayload<E>, progress?: ProgressFn): Promise<EventPayload<E>>;
}

/** For services made without plugins (tests, tools): every event passes through untouched. */
export const noPlugins: PluginEmitter = { emit: async (_event, payload) => payload };

/**
 * For the router or a data plane: the proxy config of one app, as the plugins render it. Each
 * handler gets the config the one before it returned, starting from `config` (Pier's own).
 */
export async function renderProxyConfig(
  plugins: PluginEmitter,
  input: { app: string; hosts: string[]; upstreams: string[]; config: string },
  progress?: ProgressFn,
): Promise<string> {
  return (await plugins.emit('proxy-config-render', input, progress)).config;
}
