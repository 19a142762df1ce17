import type { Command } from 'commander';
import type { StorageChange, StorageEntry } from '../../release/storage-service.js';
import { storageMountSchema, storageTargetSchema } from '../../resource-settings.js';
import { appName, checked, client, out, progress } from '../common.js';
import { formatTable } from '../table.js';

const INDENT = '       ';

/** What a mount change did about the running app. */
function showRestart(app: string, change: StorageChange): void {
  if (change.restarted) out(`-----> Restarted ${app}: its instances have the new mounts`);
  else out(`${INDENT}Nothing of ${app} runs now; its instances get the mounts when they start`);
}

/** storage:* */
export function registerStorageCommands(program: Command): void {
  program
    .command('storage:mount <app> <mount>')
    .description('Mount persistent storage NAME:/path into every instance (a volume the app can write to); the app restarts')
    .action(async (app: string, mount: string) => {
      appName(app);
      const { name, path } = checked(storageMountSchema, mount);
      out(`-----> Mounting storage ${name} at ${path} in ${app}`);
      const change = await (await client()).operation<StorageChange>('POST', `/api/apps/${app}/storage`, { mount }, progress);
      if (!change.changed) return out(`${INDENT}It was mounted there already (volume ${change.volume}); nothing changed`);
      showRestart(app, change);
      out(`${INDENT}Volume ${change.volume} keeps its data across deploys, restarts and rollbacks`);
    });

  program
    .command('storage:unmount <app> <mount>')
    .description('Unmount storage (NAME:/path or /path); the volume keeps its data; the app restarts')
    .action(async (app: string, mount: string) => {
      appName(app);
      const { path } = checked(storageTargetSchema, mount);
      out(`-----> Unmounting ${path} from ${app}`);
      const change = await (await client()).operation<StorageChange>('DELETE', `/api/apps/${app}/storage`, { mount }, progress);
      showRestart(app, change);
      out(`${INDENT}Volume ${change.volume} keeps its data; mount it again with: pier storage:mount ${app} ${change.name}:${change.path}`);
    });

  program
    .command('storage:list <app>')
    .description("List the app's storage mounts")
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const mounts = await (await client()).json<StorageEntry[]>('GET', `/api/apps/${appName(app)}/storage`);
      if (opts.json) return out(JSON.stringify(mounts, null, 2));
      out(`=====> ${app} storage`);
      if (mounts.length === 0) return out(`${INDENT}None. Mount some: pier storage:mount ${app} NAME:/path`);
      const table = formatTable(['NAME', 'PATH', 'VOLUME'], mounts.map((m) => [m.name, m.path, m.volume]));
      out(table.split('\n').map((line) => `${INDENT}${line}`).join('\n'));
    });
}
