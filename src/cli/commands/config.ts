import type { Command } from 'commander';
import { parseConfigPairs } from '../../validation.js';
import { appName, client, configKey, out, progress, UsageError } from '../common.js';

/** Splits `[APP] REST...` as Dokku does: with --global there is no app. */
function target(args: string[], global: boolean | undefined, what: string): { path: string; label: string; rest: string[] } {
  if (global) return { path: '/api/config', label: 'every app (global)', rest: args };
  const [app, ...rest] = args;
  if (!app) throw new UsageError(`Name an app, or pass --global: pier ${what}`);
  return { path: `/api/apps/${appName(app)}/config`, label: app, rest };
}

const applied = (release: number | null | undefined, global: boolean | undefined) =>
  global
    ? '-----> Saved; every app gets them when its instances next start (a deploy, or pier ps:restart APP)'
    : release
      ? `-----> Released v${release}`
      : '-----> Saved; they apply at the next deploy';

/** config:* */
export function registerConfigCommands(program: Command): void {
  program
    .command('config [app]')
    .description("Show an app's config vars (--global: those every app gets)")
    .option('--global', 'the config every app gets; app values win')
    .option('--json', 'print JSON')
    .option('--shell', 'print KEY=VALUE lines')
    .action(async (app: string | undefined, opts: { global?: boolean; json?: boolean; shell?: boolean }) => {
      const t = target(app ? [app] : [], opts.global, 'config APP');
      const vars = await (await client()).json<Record<string, string>>('GET', t.path);
      if (opts.json) return out(JSON.stringify(vars, null, 2));
      const keys = Object.keys(vars).sort();
      if (opts.shell) return keys.forEach((k) => out(`${k}=${vars[k]}`));
      out(`=====> ${t.label} config vars`);
      if (keys.length === 0) return out('(none)');
      const width = Math.max(...keys.map((k) => k.length)) + 1;
      keys.forEach((k) => out(`${`${k}:`.padEnd(width)}  ${vars[k]}`));
    });

  program
    .command('config:get <args...>')
    .description('Print one config var: config:get APP KEY, or config:get --global KEY')
    .option('--global', 'the config every app gets')
    .action(async (args: string[], opts: { global?: boolean }) => {
      const t = target(args, opts.global, 'config:get APP KEY');
      const key = configKey(t.rest[0] ?? '');
      const vars = await (await client()).json<Record<string, string>>('GET', t.path);
      if (vars[key] === undefined) throw new UsageError(`${key} is not set for ${t.label}. See all with: pier config ${opts.global ? '--global' : t.label}`);
      out(vars[key]);
    });

  program
    .command('config:set <args...>')
    .description('Set config vars: config:set APP KEY=VALUE... (the app restarts with them), or config:set --global KEY=VALUE...')
    .option('--global', 'set them for every app; app values win')
    .action(async (args: string[], opts: { global?: boolean }) => {
      const t = target(args, opts.global, 'config:set APP KEY=VALUE');
      let vars: Record<string, string>;
      try {
        vars = parseConfigPairs(t.rest);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (Object.keys(vars).length === 0) throw new UsageError('Give at least one KEY=VALUE. Example: pier config:set myapp GREETING=hello');
      out(`-----> Setting config vars on ${t.label}: ${Object.keys(vars).join(', ')}`);
      const result = await (await client()).operation<{ release?: number | null }>('PATCH', t.path, { vars }, progress);
      out(applied(result.release, opts.global));
    });

  program
    .command('config:unset <args...>')
    .description('Remove config vars: config:unset APP KEY... (the app restarts without them), or config:unset --global KEY...')
    .option('--global', 'remove them from the config every app gets')
    .action(async (args: string[], opts: { global?: boolean }) => {
      const t = target(args, opts.global, 'config:unset APP KEY');
      const keys = t.rest.map(configKey);
      if (keys.length === 0) throw new UsageError('Name at least one KEY to unset.');
      out(`-----> Unsetting ${keys.join(', ')} on ${t.label}`);
      const result = await (await client()).operation<{ keys: string[]; release?: number | null }>('DELETE', t.path, { keys }, progress);
      if (result.keys.length === 0) out('       None of them were set; nothing changed');
      else out(applied(result.release, opts.global));
    });
}
