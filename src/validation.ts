import { z } from 'zod';

export const appNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,62}$/,
    'App names are DNS labels: start with a lowercase letter, then up to 62 lowercase letters, digits or dashes (e.g. "my-app")',
  );

export const configKeySchema = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'Config keys are environment variable names: letters, digits and underscores, not starting with a digit (e.g. "DATABASE_URL")',
  );

export const configValueSchema = z.string().max(64 * 1024, 'Config values are limited to 64 KiB');

export const configVarsSchema = z.record(configKeySchema, configValueSchema);

/** Parses CLI-style KEY=VALUE pairs; the first "=" splits, so values may contain "=". */
export function parseConfigPairs(pairs: string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`"${pair}" is not KEY=VALUE. Example: pier config:set myapp GREETING=hello`);
    const key = pair.slice(0, eq);
    const checked = configKeySchema.safeParse(key);
    if (!checked.success) throw new Error(`Invalid config key "${key}": ${checked.error.issues[0]!.message}`);
    vars[key] = pair.slice(eq + 1);
  }
  return vars;
}

/** Procfile: "type: command" lines; blank lines and comments ignored. */
export const processTypeSchema = z.string().regex(/^[a-zA-Z0-9_-]+$/, 'process types are letters, digits, "_" and "-"');

export function parseProcfile(text: string): Record<string, string> {
  const types: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^([^:\s]+)\s*:\s*(.+)$/.exec(line);
    if (!match || !processTypeSchema.safeParse(match[1]).success) {
      throw new Error(`Procfile line ${index + 1} is not "type: command": ${JSON.stringify(raw)}`);
    }
    types[match[1]!] = match[2]!.trim();
  });
  return types;
}

/** The subset of bin/release output Pier reads: default_process_types as "type: command" lines. */
export function parseReleaseYaml(text: string): Record<string, string> {
  const types: Record<string, string> = {};
  let inDefaults = false;
  for (const raw of text.split(/\r?\n/)) {
    if (/^default_process_types:\s*$/.test(raw)) {
      inDefaults = true;
      continue;
    }
    if (inDefaults) {
      const match = /^\s+([a-zA-Z0-9_-]+):\s*(.*)$/.exec(raw);
      if (match) types[match[1]!] = unquote(match[2]!.trim());
      else if (/^\S/.test(raw)) inDefaults = false;
    }
  }
  return types;
}

function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
    return value.slice(1, -1);
  }
  return value;
}

/** A local Docker image reference: [registry/]name[:tag][@digest], as `docker images` shows them, or an image id. */
export const imageReferenceSchema = z
  .string()
  .max(512)
  .regex(
    /^([a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?\/)*[a-z0-9]+([._-][a-z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$|^(sha256:)?[a-f0-9]{12,64}$/,
    'an image reference such as "myimage:1.0" (see docker images)',
  );

const envVarList = z.array(configKeySchema);

/** `pier builder:set APP KEY [VALUE]`: an empty value restores the default. */
export const builderSettingSchema = z.discriminatedUnion('key', [
  z.object({ key: z.literal('selected'), value: z.enum(['dockerfile', 'buildpacks']).optional() }),
  z.object({ key: z.literal('network'), value: z.enum(['none']).optional() }),
  z.object({ key: z.literal('build-args'), value: envVarList }),
]);

/** `pier logs -n N`: how many of the latest lines to show first. */
export const logLinesSchema = z.coerce
  .number({ invalid_type_error: 'a number of lines, 1 to 10000' })
  .int('a whole number of lines, 1 to 10000')
  .min(1, 'at least 1 line')
  .max(10_000, 'at most 10000 lines');

const hostLabel = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';

/** A host name an app can be served at; `*.example.com` covers every subdomain. */
export const domainSchema = z
  .string()
  .transform((d) => d.trim().toLowerCase().replace(/\.$/, ''))
  .pipe(
    z
      .string()
      .max(253, 'Domains are at most 253 characters')
      .regex(new RegExp(`^(\\*\\.)?(${hostLabel}\\.)*${hostLabel}$`), 'Domains are host names such as example.com or www.example.com, or *.example.com for every subdomain'),
  );
