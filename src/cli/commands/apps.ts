import type { Command } from 'commander';
import type { AppInfo } from '../../api/app-service.js';
import { appName, client, out, progress, settings, UsageError } from '../common.js';
import { formatTable } from '../table.js';

/** apps:* */
export function registerAppCommands(program: Command): void {
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
    .command('apps:rename <old> <new>')
    .description('Rename an app: repository, images, config, routes and running instances follow; it is served at its new URL')
    .action(async (from: string, to: string) => {
      out(`-----> Renaming ${appName(from)} to ${appName(to)}`);
      const result = await (await client()).operation<{ url: string }>('POST', `/api/apps/${from}/rename`, { name: to }, progress);
      out(`-----> Renamed; served at ${result.url}`);
      out(`       Point your git remote at the new name: git remote set-url pier <host>/${to}.git`);
    });

  program
    .command('apps:destroy <name>')
    .description('Destroy an app: its containers, images, repository, config and routes')
    .option('--force', 'confirm the destruction')
    .option('--remove-volumes', 'remove its storage volumes (storage:mount) and their data too')
    .action(async (name: string, opts: { force?: boolean; removeVolumes?: boolean }) => {
      appName(name);
      if (!opts.force) throw new UsageError(`This destroys ${name} and everything it holds. Re-run with --force: pier apps:destroy ${name} --force`);
      const body = opts.removeVolumes ? { removeVolumes: true } : {};
      const result = await (await client()).json<{ keptVolumes: string[]; removedVolumes: string[] }>('DELETE', `/api/apps/${name}`, body);
      out(`-----> Destroyed ${name}`);
      for (const volume of result.removedVolumes) out(`       Removed volume ${volume} and its data`);
      for (const volume of result.keptVolumes) out(`       Kept volume ${volume} and its data; remove it with: docker volume rm ${volume}`);
    });
}
