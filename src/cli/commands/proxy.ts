import type { Command } from 'commander';
import { z } from 'zod';
import type { MaintenanceReport, ProxyReport } from '../../api/routes/proxy.js';
import { PLANE_KEY } from '../../proxy-plane.js';
import { maintenanceSchema, proxyKeySchema, proxySettingSchema } from '../../proxy-settings.js';
import { appName, checked, client, out, UsageError } from '../common.js';
import { switchPlane } from './proxy-type.js';

/** `proxy:set APP KEY [VALUE]` or `proxy:set --global KEY [VALUE]`: no value goes back to the level below. */
function setting(args: string[], global: boolean | undefined): { path: string; label: string; key: string; value: string | undefined } {
  const usage = 'pier proxy:set APP KEY [VALUE], or pier proxy:set --global KEY [VALUE]';
  const [app, ...rest] = global ? [undefined, ...args] : args;
  const [key, value, ...extra] = rest;
  if (key === undefined || extra.length > 0) throw new UsageError(`Name ${global ? '' : 'an app, '}a setting and at most one value: ${usage}`);
  if (value === undefined) checked(z.object({ key: proxyKeySchema }), { key });
  else checked(proxySettingSchema, { key, value });
  return app === undefined ? { path: '/api/proxy', label: 'every app (global)', key, value } : { path: `/api/apps/${appName(app)}/proxy`, label: app, key, value };
}

/** `proxy:set --global type [VALUE]`: the switch proxy:type makes; no value goes back to the default, builtin. */
async function setPlane([type = 'builtin', ...extra]: string[]): Promise<void> {
  if (extra.length > 0) throw new UsageError(`Name one data plane: pier proxy:set --global ${PLANE_KEY} builtin|nginx`);
  await switchPlane(type, false);
}

function printReport(report: ProxyReport): void {
  out(`=====> ${report.app ?? 'Global'} proxy settings`);
  const keyWidth = Math.max(...report.settings.map((s) => s.key.length)) + 1;
  const valueWidth = Math.max(...report.settings.map((s) => s.value.length));
  for (const s of report.settings) out(`       ${`${s.key}:`.padEnd(keyWidth)}  ${s.value.padEnd(valueWidth)}  (${s.source})`);
}

function printMaintenance(m: MaintenanceReport): void {
  out(`=====> ${m.app} maintenance`);
  out(`       Enabled:      ${m.enabled}`);
  if (m.enabled) {
    out(`       Retry-After:  ${m.retryAfter} s`);
    out(`       Since:        ${m.since}`);
  }
}

/** proxy:* and maintenance:* */
export function registerProxyCommands(program: Command): void {
  program
    .command('proxy:set <args...>')
    .description("Set a router setting: proxy:set APP KEY VALUE (no VALUE: back to the global value), or --global KEY [VALUE] (no VALUE: the default); --global type builtin|nginx switches the data plane, as proxy:type does; see proxy:report")
    .option('--global', 'for every app; app values win')
    .action(async (args: string[], opts: { global?: boolean }) => {
      if (opts.global && args[0] === PLANE_KEY) return setPlane(args.slice(1));
      const s = setting(args, opts.global);
      const api = await client();
      if (s.value !== undefined) {
        await api.json<ProxyReport>('PUT', s.path, { key: s.key, value: s.value });
        out(`-----> ${s.key} set to ${s.value.trim()} for ${s.label}; the router applies it at once`);
        return;
      }
      const report = await api.json<ProxyReport>('DELETE', s.path, { key: s.key });
      const now = report.settings.find((r) => r.key === s.key)!;
      out(`-----> ${s.key} unset for ${s.label}; it is now ${now.value} (${now.source})`);
    });

  program
    .command('proxy:report [app]')
    .description("Show an app's router settings and where each comes from (app, global, default); --global: the global ones")
    .option('--global', 'the settings every app gets unless it sets its own')
    .option('--json', 'print JSON')
    .action(async (app: string | undefined, opts: { global?: boolean; json?: boolean }) => {
      if (!app && !opts.global) throw new UsageError('Name an app, or pass --global: pier proxy:report APP');
      const report = await (await client()).json<ProxyReport>('GET', opts.global ? '/api/proxy' : `/api/apps/${appName(app!)}/proxy`);
      if (opts.json) return out(JSON.stringify(report, null, 2));
      printReport(report);
    });

  program
    .command('maintenance:on <app>')
    .description('Answer every request to the app with 503 and the maintenance page; its instances keep running')
    .option('--retry-after <seconds>', 'the Retry-After clients get, in seconds (default 60)')
    .action(async (app: string, opts: { retryAfter?: string }) => {
      const body = checked(maintenanceSchema, { retryAfter: opts.retryAfter });
      const m = await (await client()).json<MaintenanceReport>('PUT', `/api/apps/${appName(app)}/maintenance`, body);
      out(`-----> Maintenance mode on for ${app}: requests get 503 (Retry-After: ${m.retryAfter} s); its instances keep running`);
    });

  program
    .command('maintenance:off <app>')
    .description('Serve the app again after maintenance:on')
    .action(async (app: string) => {
      await (await client()).json<MaintenanceReport>('DELETE', `/api/apps/${appName(app)}/maintenance`);
      out(`-----> Maintenance mode off for ${app}: requests reach its instances again`);
    });

  program
    .command('maintenance:report <app>')
    .description("Show whether the app is in maintenance mode")
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const m = await (await client()).json<MaintenanceReport>('GET', `/api/apps/${appName(app)}/maintenance`);
      if (opts.json) return out(JSON.stringify(m, null, 2));
      printMaintenance(m);
    });
}
