import { z } from 'zod';

const seconds = (fallback: number) => z.number().nonnegative().default(fallback);

/** One check in Dokku's app.json `healthchecks` format. Only `startup` checks gate a deploy. */
const checkSchema = z.object({
  type: z.enum(['startup', 'liveness', 'readiness']).default('startup'),
  name: z.string().optional(),
  description: z.string().optional(),
  /** An HTTP GET of this path must answer 2xx (and hold `content`, when given). */
  path: z.string().startsWith('/', 'path must start with "/"').optional(),
  content: z.string().optional(),
  /** Port to probe; the app's PORT when unset. */
  port: z.number().int().min(1).max(65535).optional(),
  /** The instance must have stayed up this long. */
  uptime: seconds(0),
  attempts: z.number().int().min(1).default(5),
  timeout: seconds(5),
  wait: seconds(1),
  initialDelay: seconds(0),
});

export type HealthCheck = z.infer<typeof checkSchema>;

const processTypeName = z.string().regex(/^[a-zA-Z0-9_-]+$/, 'process types are letters, digits, "_" and "-"');

export const appJsonSchema = z.object({
  healthchecks: z.record(processTypeName, z.array(checkSchema)).default({}),
  scripts: z
    .object({ dokku: z.object({ predeploy: z.string().optional(), postdeploy: z.string().optional() }).partial().optional() })
    .partial()
    .default({}),
  formation: z.record(processTypeName, z.object({ quantity: z.number().int().min(0).max(100) })).default({}),
});

export type AppJson = z.infer<typeof appJsonSchema>;

/** Parses app.json; the error names the field and how to fix it. */
export function parseAppJson(text: string): AppJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`app.json is not valid JSON (${(err as Error).message}). Fix it and push again.`);
  }
  const parsed = appJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`app.json: ${issue.path.join('.') || '(root)'}: ${issue.message}. Fix it and push again.`);
  }
  return parsed.data;
}

/** The release phase: the Procfile's `release:` command, else app.json's predeploy script. */
export function releaseCommand(processTypes: Record<string, string>, appJson: AppJson | undefined): string | undefined {
  return processTypes.release ?? appJson?.scripts.dokku?.predeploy;
}
