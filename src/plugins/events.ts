import { z } from 'zod';

/**
 * Every lifecycle event plugins can handle, with the payload a handler gets and the result it may
 * return. Payloads are plain JSON (they cross into the plugin's process) and never carry config
 * values: a plugin that needs them asks through the config capability.
 */
export interface PluginEventMap {
  'app-created': { payload: { app: string }; result: void };
  'app-destroyed': { payload: { app: string }; result: void };
  'app-renamed': { payload: { from: string; to: string }; result: void };
  'pre-build': { payload: { app: string; buildId: string; commit: string; origin: 'git' | 'archive' | 'image' }; result: void };
  'post-build': { payload: { app: string; buildId: string; commit: string; image: string; processTypes: Record<string, string> }; result: void };
  'pre-release': { payload: { app: string; image: string; description: string; createdBy: string; processTypes: Record<string, string> }; result: void };
  'post-deploy': { payload: { app: string; version: number; image: string; description: string; createdBy: string }; result: void };
  /**
   * Key names only; `by` is who changed them (a token name, or `plugin:<name>`), so a plugin can skip its own changes.
   * `app: null` is the global config (`config:set --global`), which every app gets at its next start.
   */
  'config-changed': { payload: { app: string | null; set: string[]; unset: string[]; by: string }; result: void };
  /**
   * An app's custom domains after the change, and what the change added and removed. `app: null` is the global
   * domain (`domains:set-global`): `domains` is then the one global domain, every app's `<app>.<domain>`.
   */
  'domains-changed': { payload: { app: string | null; domains: string[]; added: string[]; removed: string[]; by: string }; result: void };
  /** Each handler gets the config the one before it returned, starting from Pier's own (empty without a data plane). */
  'proxy-config-render': { payload: { app: string; hosts: string[]; upstreams: string[]; config: string }; result: { config: string } | void };
}

export type EventName = keyof PluginEventMap;
export type EventPayload<E extends EventName> = PluginEventMap[E]['payload'];
export type EventResult<E extends EventName> = PluginEventMap[E]['result'];

/**
 * What a failing handler does to the operation that emitted the event:
 * - `veto`: the operation fails with the handler's error and the handlers after it do not run;
 * - `notify`: the operation stands; the failure becomes a warning in its output;
 * - `pipeline`: like notify, and each handler's result feeds the next handler.
 */
export type EventKind = 'veto' | 'notify' | 'pipeline';

export const EVENT_KINDS: { [E in EventName]: EventKind } = {
  'app-created': 'notify',
  'app-destroyed': 'notify',
  'app-renamed': 'notify',
  'pre-build': 'veto',
  'post-build': 'notify',
  'pre-release': 'veto',
  'post-deploy': 'notify',
  'config-changed': 'notify',
  'domains-changed': 'notify',
  'proxy-config-render': 'pipeline',
};

export const EVENT_NAMES = Object.keys(EVENT_KINDS) as EventName[];

/** What a pipeline handler may return, checked before it reaches the next handler: a plugin is not trusted to keep the types. */
export const PIPELINE_RESULTS: { [E in EventName]?: z.ZodType<Partial<EventPayload<E>> | undefined> } = {
  'proxy-config-render': z.object({ config: z.string() }).strict().optional(),
};
