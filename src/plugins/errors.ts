import { UserError } from '../errors.js';

/** A plugin problem the user can act on: a bad manifest, an incompatible API, a plugin that is disabled or missing. */
export class PluginError extends UserError {}

/** A plugin that failed one call (threw, timed out, exited); the message names the plugin and the call. */
export class PluginFailure extends PluginError {}
