/**
 * An error the user can act on: bad input, an app that does not fit its builder, a failed deploy.
 * Its message says what happened and what to do; the API answers it with 400, not 500.
 */
export class UserError extends Error {}

/** A storage mount the user can fix: a name another app's volume holds, a path already taken, an image that cannot hand a volume to its user. */
export class StorageError extends UserError {}
