import type { Command } from 'commander';
import { parseConfigPairs } from '../../validation.js';
import { appName, client, configKey, out, progress, UsageError } from '../common.js';

/** config:* */
export function registerConfigCommands(program: Command): void {
  program
    .command('config <name>')
    .description("Show an app's config vars")
    .option('--json', 'print JSON')
    .option('--shell', 'print KEY=VALUE lines')
    .action(async (name: string, opts: { json?: boolean; shell?: boolean }) => {
      const vars = await (await client()).json<Record<string, string>>('GET', `/api/apps/${appName(name)}/config`);
      if (opts.json) return out(JSON.stringify(vars, null, 2));
      const keys = Object.keys(vars).sort();
      if (opts.shell) return keys.forEach((k) => out(`${k}=${vars[k]}`));
      out(`=====> ${name} config vars`);
      if (keys.length === 0) return out('(none)');
      const width = Math.max(...keys.map((k) => k.length)) + 1;
      keys.forEach((k) => out(`${`${k}:`.padEnd(width)}  ${vars[k]}`));
    });

  program
    .command('config:get <name> <key>')
    .description('Print one config var')
    .action(async (name: string, key: string) => {
      const vars = await (await client()).json<Record<string, string>>('GET', `/api/apps/${appName(name)}/config`);
      const value = vars[configKey(key)];
      if (value === undefined) throw new UsageError(`${key} is not set for ${name}. See all with: pier config ${name}`);
      out(value);
    });

  program
    .command('config:set <name> <pairs...>')
    .description('Set config vars (KEY=VALUE ...); the app restarts with them')
    .action(async (name: string, pairs: string[]) => {
      let vars: Record<string, string>;
      try {
        vars = parseConfigPairs(pairs);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      out(`-----> Setting config vars on ${appName(name)}: ${Object.keys(vars).join(', ')}`);
      const result = await (await client()).operation<{ release: number | null }>('PATCH', `/api/apps/${name}/config`, { vars }, progress);
      out(result.release ? `-----> Released v${result.release}` : '-----> Saved; they apply at the next deploy');
    });

  program
    .command('config:unset <name> <keys...>')
    .description('Remove config vars; the app restarts without them')
    .action(async (name: string, keys: string[]) => {
      keys.forEach(configKey);
      out(`-----> Unsetting ${keys.join(', ')} on ${appName(name)}`);
      const result = await (await client()).operation<{ keys: string[]; release: number | null }>('DELETE', `/api/apps/${name}/config`, { keys }, progress);
      if (result.keys.length === 0) out('       None of them were set; nothing changed');
      else out(result.release ? `-----> Released v${result.release}` : '-----> Saved; they apply at the next deploy');
    });
}
