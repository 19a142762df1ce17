import { z } from 'zod';

/*
 * Which data plane serves PIER_HTTP_PORT: Pier's own router, or nginx driven by the nginx-proxy
 * plugin. A global choice (one listening socket per host), parsed alike by the CLI and the API.
 */

export const DATA_PLANES = ['builtin', 'nginx'] as const;
export type DataPlane = (typeof DATA_PLANES)[number];

/** The data plane's key in `proxy:set --global` and `proxy:report`: global only, not one of the router's per-app settings. */
export const PLANE_KEY = 'type';

export const dataPlaneSchema = z.enum(DATA_PLANES, { errorMap: () => ({ message: `the proxy type is one of: ${DATA_PLANES.join(', ')}` }) });

/** What the router role reports about the plane it serves with, for `pier proxy:type`. */
export interface PlaneStatus {
  /** The plane asked for (`proxy:type`). */
  wanted: DataPlane;
  /** The plane serving now; differs from `wanted` while a switch runs or after one failed. */
  serving: DataPlane;
  /** The last render, validation, start or reload failure; cleared by the next success. */
  error?: string;
  /** Reloads of nginx since its master started (0 for the built-in plane). */
  reloads: number;
  /** When this status was written, ms since the epoch. */
  at: number;
}
