import type { Command } from 'commander';
import type { ProcessReport } from '../../release/process-service.js';
import type { Release } from '../../state/release-store.js';
import { processTypeSchema } from '../../validation.js';
import { appName, client, followBuild, out, progress, UsageError } from '../common.js';
import { formatTable } from '../table.js';

function processType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = processTypeSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`Invalid process type "${value}": ${parsed.error.issues[0]!.message}`);
  return value;
}

/** TYPE=N pairs of ps:scale. */
export function parseScale(pairs: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const pair of pairs) {
    const match = /^([^=]+)=(\d+)$/.exec(pair);
    if (!match) throw new UsageError(`"${pair}" is not TYPE=COUNT. Example: pier ps:scale myapp web=2 worker=1`);
    counts[processType(match[1])!] = Number(match[2]);
  }
  return counts;
}

function uptime(startedAt: string, state: string): string {
  if (!startedAt || state !== 'running') return '-';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(startedAt)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** releases, rollback and ps:* */
export function registerProcessCommands(program: Command): void {
  program
    .command('releases <app>')
    .description("List an app's releases, newest first")
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const releases = await (await client()).json<Array<Omit<Release, 'config'>>>('GET', `/api/apps/${appName(app)}/releases`);
      if (opts.json) return out(JSON.stringify(releases, null, 2));
      if (releases.length === 0) return out(`${app} has no releases yet. Deploy with git push.`);
      out(formatTable(
        ['VERSION', 'DESCRIPTION', 'BY', 'CREATED'],
        releases.map((r) => [`v${r.version}`, `${r.description}${r.failed ? ' (failed)' : ''}`, r.createdBy, r.createdAt]),
      ));
    });

  program
    .command('rollback <app> [version]')
    .description('Deploy an earlier release again (default: the one before the current), image and config, without a build')
    .action(async (app: string, version: string | undefined) => {
      const match = version === undefined ? undefined : /^v?(\d+)$/.exec(version);
      if (version !== undefined && !match) throw new UsageError(`"${version}" is not a release version. Example: pier rollback ${app} v3`);
      out(`-----> Rolling back ${appName(app)}${version ? ` to v${match![1]}` : ''}`);
      const body = match ? { version: Number(match[1]) } : {};
      const result = await (await client()).operation<{ release: number }>('POST', `/api/apps/${app}/rollback`, body, progress);
      out(`-----> Released v${result.release}`);
    });

  program
    .command('ps <app>')
    .description("Show the app's instances: type.N, state, uptime, release, restarts")
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const report = await (await client()).json<ProcessReport>('GET', `/api/apps/${appName(app)}/ps`);
      if (opts.json) return out(JSON.stringify(report, null, 2));
      const formation = Object.entries(report.formation).map(([t, n]) => `${t}=${n}`).join(' ') || '(none)';
      out(`=====> ${app} (release ${report.release ? `v${report.release}` : 'none'}, formation ${formation}${report.stopped.length ? `, stopped: ${report.stopped.join(', ')}` : ''})`);
      if (report.instances.length === 0) return out('No instances running.');
      out(formatTable(
        ['INSTANCE', 'STATE', 'UPTIME', 'RELEASE', 'RESTARTS'],
        report.instances.map((i) => [i.name, i.state === 'exited' ? `exited (${i.exitCode})` : i.state, uptime(i.startedAt, i.state), `v${i.release}`, String(i.restarts)]),
      ));
    });

  program
    .command('ps:scale <app> <counts...>')
    .description('Set the number of instances per process type: pier ps:scale APP web=2 worker=1')
    .action(async (app: string, pairs: string[]) => {
      const counts = parseScale(pairs);
      out(`-----> Scaling ${appName(app)} to ${Object.entries(counts).map(([t, n]) => `${t}=${n}`).join(' ')}`);
      const result = await (await client()).operation<{ formation: Record<string, number> }>('POST', `/api/apps/${app}/ps/scale`, { counts }, progress);
      out(`-----> Formation: ${Object.entries(result.formation).map(([t, n]) => `${t}=${n}`).join(' ') || '(saved for the first deploy)'}`);
    });

  for (const [action, description] of [
    ['restart', 'Restart the app (or one process type) with no downtime: new instances replace the old'],
    ['stop', 'Stop the app (or one process type); it stays stopped until ps:start or a deploy'],
    ['start', 'Start what ps:stop stopped'],
  ] as const) {
    program
      .command(`ps:${action} <app> [type]`)
      .description(description)
      .action(async (app: string, type: string | undefined) => {
        out(`-----> ${action[0]!.toUpperCase()}${action.slice(1)}ing ${appName(app)}${type ? ` (${processType(type)})` : ''}`);
        await (await client()).operation('POST', `/api/apps/${app}/ps/${action}`, type ? { type } : {}, progress);
        out('-----> Done');
      });
  }

  program
    .command('ps:rebuild [app]')
    .description('Build the app again from its last pushed commit and deploy it (--all: every app)')
    .option('--all', 'rebuild every app')
    .action(async (app: string | undefined, opts: { all?: boolean }) => {
      if (!app && !opts.all) throw new UsageError('Name an app, or pass --all: pier ps:rebuild APP | pier ps:rebuild --all');
      const api = await client();
      const names = opts.all ? (await api.json<Array<{ name: string; currentRelease: number }>>('GET', '/api/apps')).filter((a) => a.currentRelease > 0).map((a) => a.name) : [appName(app!)];
      for (const name of names) {
        out(`=====> Rebuilding ${name}`);
        await followBuild((onLine) => api.lines(`/api/apps/${name}/ps/rebuild`, onLine, 'POST', {}));
      }
    });
}
