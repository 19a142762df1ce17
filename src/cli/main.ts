#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import type { AppInfo } from '../api/app-service.js';
import { describeSource } from '../build/build-queue.js';
import type { BuildRecord } from '../state/build-store.js';
import { readAdminToken, setup } from '../setup.js';
import { parseConfigPairs } from '../validation.js';
import { ApiError } from './api-client.js';
import { appName, client, configKey, followBuild, out, progress, settings, UsageError } from './common.js';
import { registerDeployCommands } from './deploy-commands.js';
import { loadEnvFile } from './env-file.js';
import { formatTable } from './table.js';

loadEnvFile(process.env.PIER_ENV_FILE ?? '/etc/pier/pier.env');

function duration(b: BuildRecord): string {
  if (!b.startedAt) return '-';
  const end = b.finishedAt ? Date.parse(b.finishedAt) : Date.now();
  return `${((end - Date.parse(b.startedAt)) / 1000).toFixed(1)}s`;
}


const program = new Command('pier')
  .description('Pier: git push to deploy, on your own server.')
  .showHelpAfterError()
  .exitOverride();

program
  .command('apps:create <name>')
  .description('Create an app')
  .action(async (name: string) => {
    const res = await (await client()).json<{ name: string; url: string }>('POST', '/api/apps', { name: appName(name) });
    out(`-----> Created ${res.name}`);
    out(`       Push to deploy: git push pier main   (remote: ${process.env.PIER_URL ?? `http://<host>:${settings().apiPort}`}/${res.name}.git)`);
    out(`       It will be served at ${res.url}`);
  });

program
  .command('apps:list')
  .description('List apps')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    const apps = await (await client()).json<Array<{ name: string; createdAt: string; currentRelease: number }>>('GET', '/api/apps');
    if (opts.json) return out(JSON.stringify(apps, null, 2));
    if (apps.length === 0) return out('No apps yet. Create one: pier apps:create NAME');
    out(formatTable(['NAME', 'RELEASE', 'CREATED'], apps.map((a) => [a.name, a.currentRelease ? `v${a.currentRelease}` : '-', a.createdAt])));
  });

program
  .command('apps:info <name>')
  .description('Show an app: URL, current release, running instances')
  .option('--json', 'print JSON')
  .action(async (name: string, opts: { json?: boolean }) => {
    const info = await (await client()).json<AppInfo>('GET', `/api/apps/${appName(name)}`);
    if (opts.json) return out(JSON.stringify(info, null, 2));
    out(`=====> ${info.name}`);
    out(formatTable(['KEY', 'VALUE'], [
      ['URL', info.url],
      ['Release', info.release ? `v${info.release}` : 'not deployed'],
      ['Commit', info.commit ?? '-'],
      ['Image', info.image ?? '-'],
      ['Instances', info.instances.map((i) => `${i.process} v${i.release} ${i.address}`).join(', ') || 'none running'],
      ['Created', info.createdAt],
    ]).split('\n').slice(1).join('\n'));
  });

program
  .command('apps:destroy <name>')
  .description('Destroy an app: its containers, images, repository, config and routes')
  .option('--force', 'confirm the destruction')
  .action(async (name: string, opts: { force?: boolean }) => {
    appName(name);
    if (!opts.force) throw new UsageError(`This destroys ${name} and everything it holds. Re-run with --force: pier apps:destroy ${name} --force`);
    await (await client()).json('DELETE', `/api/apps/${name}`);
    out(`-----> Destroyed ${name}`);
  });

program
  .command('builds <name>')
  .description("List an app's builds, newest first")
  .option('--json', 'print JSON')
  .action(async (name: string, opts: { json?: boolean }) => {
    const builds = await (await client()).json<BuildRecord[]>('GET', `/api/apps/${appName(name)}/builds`);
    if (opts.json) return out(JSON.stringify(builds, null, 2));
    if (builds.length === 0) return out(`${name} has no builds yet. Deploy with git push.`);
    out(formatTable(
      ['ID', 'COMMIT', 'STATUS', 'DURATION', 'BY', 'CREATED'],
      builds.map((b) => [b.id, describeSource(b.origin, b.commit), b.status, duration(b), b.createdBy, b.createdAt]),
    ));
  });

program
  .command('builds:output <name> [id]')
  .description('Replay a build log (the latest by default) and follow it while it runs; exits 1 if the build failed')
  .action(async (name: string, id: string | undefined) => {
    const api = await client();
    await followBuild((onLine) => api.lines(`/api/apps/${appName(name)}/builds/${id ?? 'latest'}/output`, onLine));
  });

program
  .command('builds:cancel <name>')
  .description("Cancel the app's queued builds and stop its running build")
  .action(async (name: string) => {
    const cancelled = await (await client()).json<Array<{ id: string; commit: string; was: string }>>('POST', `/api/apps/${appName(name)}/builds/cancel`);
    if (cancelled.length === 0) return out(`-----> ${name} has no queued or running build`);
    for (const b of cancelled) {
      out(b.was === 'queued' ? `-----> Cancelled queued build ${b.id} (${b.commit.slice(0, 7)})` : `-----> Stopping build ${b.id} (${b.commit.slice(0, 7)})`);
    }
  });

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

registerDeployCommands(program);

program
  .command('token')
  .description('Print the admin API token (on the server, as root)')
  .action(async () => {
    const token = await readAdminToken(settings());
    if (!token) throw new UsageError(`No admin token at ${settings().tokensDir}/admin. Run ./install.sh (or pier setup) as root first.`);
    out(token);
  });

program
  .command('setup')
  .description('Prepare PIER_HOME and Redis state, and create the admin token (run by install.sh)')
  .action(async () => {
    const result = await setup(settings());
    out(`-----> State schema v${result.schema}; admin token ${result.tokenCreated ? 'created' : 'kept'}`);
  });

program
  .command('daemon')
  .description('Run the Pier daemon: API, git endpoint, build worker and router')
  .option('--role <roles>', 'comma-separated roles to run: api,router,worker', 'api,router,worker')
  .action(async (opts: { role: string }) => {
    const { startDaemon, ALL_ROLES } = await import('../daemon.js');
    const roles = opts.role.split(',').map((r) => r.trim());
    const unknown = roles.filter((r) => !(ALL_ROLES as string[]).includes(r));
    if (unknown.length > 0) throw new UsageError(`Unknown role ${unknown.join(', ')}; roles are ${ALL_ROLES.join(', ')}`);
    const daemon = await startDaemon(settings(), roles as typeof ALL_ROLES);
    const stop = (signal: string) => {
      daemon.log.info({ signal }, 'shutting down; apps keep running');
      daemon.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const message = err instanceof ApiError || err instanceof UsageError ? err.message : (err as Error).message;
  process.stderr.write(` !     ${message}\n`);
  process.exit(1);
});
