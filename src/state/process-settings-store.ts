import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keyspace } from './keys.js';

/** Docker resource limits of one process type (or of every type, under "*"). */
export interface ResourceLimits {
  /** Bytes. */
  memory?: number;
  /** CPUs, fractional allowed. */
  cpus?: number;
}

export type RestartPolicy = { name: 'no' } | { name: 'always' } | { name: 'on-failure'; maxRetries: number };

export interface ProcessSettings {
  restartPolicy: RestartPolicy;
  /** Seconds between SIGTERM and SIGKILL when an instance stops. */
  stopTimeoutSec: number;
  /** Process type (or "*") → limits. */
  resources: Record<string, ResourceLimits>;
  /** Process types stopped with ps:stop ("*": the whole app); the reconciler leaves them stopped. */
  stopped: string[];
}

export const DEFAULT_PROCESS_SETTINGS: ProcessSettings = {
  restartPolicy: { name: 'on-failure', maxRetries: 10 },
  stopTimeoutSec: 30,
  resources: {},
  stopped: [],
};

const stored = z.object({
  restartPolicy: z.union([
    z.object({ name: z.literal('no') }),
    z.object({ name: z.literal('always') }),
    z.object({ name: z.literal('on-failure'), maxRetries: z.number().int().min(0) }),
  ]),
  stopTimeoutSec: z.number().int().min(0),
  resources: z.record(z.object({ memory: z.number().optional(), cpus: z.number().optional() })),
  stopped: z.array(z.string()),
}).partial();

export class ProcessSettingsStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async get(app: string): Promise<ProcessSettings> {
    const raw = await this.redis.get(this.keys.processSettings(app));
    const parsed = raw ? stored.safeParse(JSON.parse(raw)) : undefined;
    return { ...DEFAULT_PROCESS_SETTINGS, ...(parsed?.success ? parsed.data : {}) };
  }

  async update(app: string, change: (current: ProcessSettings) => ProcessSettings): Promise<ProcessSettings> {
    const next = change(await this.get(app));
    await this.redis.set(this.keys.processSettings(app), JSON.stringify(next));
    return next;
  }
}
