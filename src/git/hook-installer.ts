import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { projectRoot } from '../paths.js';

export interface HookSettings {
  hooksDir: string;
  sourcesDir: string;
  home: string;
  apiUrl: string;
}

/** The secret the pre-receive hook shows the daemon; the file is readable by root only. */
export async function ensureHookToken(home: string): Promise<string> {
  const file = path.join(home, 'hook-token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const token = randomBytes(24).toString('base64url');
    await mkdir(home, { recursive: true });
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    return token;
  }
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Writes the shared pre-receive hook. It runs the hook module with this very Node and, when the
 * daemon itself runs from TypeScript sources, with the same TypeScript loader.
 */
export async function installHooks(settings: HookSettings): Promise<void> {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const hookModule = path.join(path.dirname(here), `pre-receive${fromSource ? '.ts' : '.js'}`);
  const loader = fromSource ? ['--import', pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href] : [];
  const script = [
    '#!/bin/sh',
    '# Written by the Pier daemon at start; edits are overwritten.',
    `export PIER_HOOK_URL=${shellQuote(settings.apiUrl)}`,
    `export PIER_HOOK_TOKEN_FILE=${shellQuote(path.join(settings.home, 'hook-token'))}`,
    `export PIER_SOURCES_DIR=${shellQuote(settings.sourcesDir)}`,
    `exec ${[process.execPath, ...loader, hookModule].map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
  await mkdir(settings.hooksDir, { recursive: true });
  await mkdir(settings.sourcesDir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(settings.hooksDir, 'pre-receive'), script, { mode: 0o755 });
}
