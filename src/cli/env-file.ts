import { readFileSync } from 'node:fs';

/**
 * Reads the install's settings file (KEY=VALUE lines, # comments) so CLI and daemon on the
 * server see the same PIER_* values; variables already in the environment win.
 */
export function loadEnvFile(file: string, env: NodeJS.ProcessEnv = process.env): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, key, value = ''] = match;
    if (env[key!] === undefined) env[key!] = value.replace(/^(['"])(.*)\1$/, '$2');
  }
}
