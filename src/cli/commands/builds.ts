import type { Command } from 'commander';
import { describeSource } from '../../build/build-queue.js';
import type { BuildRecord } from '../../state/build-store.js';
import { appName, client, followBuild, out } from '../common.js';
import { formatTable } from '../table.js';

function duration(b: BuildRecord): string {
  if (!b.startedAt) return '-';
  const end = b.finishedAt ? Date.parse(b.finishedAt) : Date.now();
  return `${((end - Date.parse(b.startedAt)) / 1000).toFixed(1)}s`;
}

/** builds:* */
export function registerBuildCommands(program: Command): void {
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
}
