import type { Command } from 'commander';
import type { ProcessLimits, ProcessSettingsReport, ResourceReport, SettingsChange } from '../../release/resource-service.js';
import { cpusSchema, formatBytes, formatCpus, memorySchema, PROCESS_SETTING_KEYS, processSettingSchema } from '../../resource-settings.js';
import type { AppliedSettings } from '../../scheduler/scheduler.js';
import { processTypeSchema } from '../../validation.js';
import { appName, checked, client, out, UsageError } from '../common.js';
import { formatTable } from '../table.js';

const INDENT = '       ';
const EVERY = 'every process type';

/** "(default)" or "(every process type)" after a value a row did not set itself. */
function origin(from: string, row: string): string {
  if (from === 'default') return ' (default)';
  return from === '*' && row !== '*' ? ` (${EVERY})` : '';
}

function cells(row: ProcessLimits): [string, string, string] {
  return [
    `${formatBytes(row.memory)}${origin(row.from.memory, row.process)}`,
    `${formatCpus(row.cpus)}${origin(row.from.cpus, row.process)}`,
    String(row.pids),
  ];
}

function showLimits(app: string, report: ResourceReport, type: string | undefined): void {
  const row = (type && report.processes.find((p) => p.process === type)) || { ...report.every, process: type ?? '*' };
  const [memory, cpu, pids] = cells(row);
  out(`=====> ${app} resource limits (${type ?? EVERY})`);
  out(`${INDENT}memory:  ${memory}`);
  out(`${INDENT}cpu:     ${cpu}`);
  out(`${INDENT}pids:    ${pids}`);
}

function showApplied(app: string, applied: AppliedSettings | null): void {
  if (!applied) return out(`${INDENT}Saved: instances get them when they start (the first deploy)`);
  if (applied.updated.length > 0) out(`${INDENT}Applied in place to ${applied.updated.join(', ')}, without a restart; new instances get them too`);
  else if (applied.failed.length === 0) out(`${INDENT}Saved: nothing runs now; instances get them when they start`);
  for (const f of applied.failed) out(`${INDENT}Not applied to ${f.name} in place (${f.reason}); it gets them when it restarts: pier ps:restart ${app}`);
}

const processType = (value: string | undefined) => (value === undefined ? undefined : checked(processTypeSchema, value));

/** resource:* (memory, CPU) and ps:set / ps:report (restart policy, stop timeout). */
export function registerResourceCommands(program: Command): void {
  program
    .command('resource:limit <app>')
    .description("Limit the memory and CPUs of each of the app's instances; running instances change in place. No limit given: show them")
    .option('--memory <size>', 'memory per instance, with no swap: 512m, 1g, 1.5g or bytes')
    .option('--cpu <cpus>', "CPUs per instance: 0.5, 1, 2 (at most the host's cores)")
    .option('--process <type>', 'only this process type (default: every type without limits of its own)')
    .action(async (app: string, opts: { memory?: string; cpu?: string; process?: string }) => {
      appName(app);
      const type = processType(opts.process);
      const api = await client();
      if (opts.memory === undefined && opts.cpu === undefined) return showLimits(app, await api.json<ResourceReport>('GET', `/api/apps/${app}/resources`), type);
      if (opts.memory !== undefined) checked(memorySchema, opts.memory);
      if (opts.cpu !== undefined) checked(cpusSchema, opts.cpu);
      const what = [opts.memory && `memory ${opts.memory}`, opts.cpu && `cpu ${opts.cpu}`].filter(Boolean).join(', ');
      out(`-----> Limiting ${app} (${type ?? EVERY}): ${what}`);
      const change = await api.json<SettingsChange<ResourceReport>>('PATCH', `/api/apps/${app}/resources`, { process: type, memory: opts.memory, cpu: opts.cpu });
      showApplied(app, change.applied);
    });

  program
    .command('resource:limit:clear <app>')
    .description('Remove the limits set with resource:limit (every type, or --process TYPE): back to the defaults')
    .option('--process <type>', 'only this process type (it then gets the limits of every type)')
    .action(async (app: string, opts: { process?: string }) => {
      appName(app);
      const type = processType(opts.process);
      out(`-----> Clearing the resource limits of ${app} (${type ?? EVERY})`);
      const change = await (await client()).json<SettingsChange<ResourceReport>>('DELETE', `/api/apps/${app}/resources`, { process: type });
      showApplied(app, change.applied);
      showLimits(app, change.report, type);
    });

  program
    .command('resource:report <app>')
    .description('Show the limits each process type of the app runs with, defaults included')
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const report = await (await client()).json<ResourceReport>('GET', `/api/apps/${appName(app)}/resources`);
      if (opts.json) return out(JSON.stringify(report, null, 2));
      out(`=====> ${app} resource limits`);
      const rows = [report.every, ...report.processes].map((r) => [r.process === '*' ? `(${EVERY})` : r.process, ...cells(r)]);
      out(formatTable(['PROCESS', 'MEMORY', 'CPU', 'PIDS'], rows).split('\n').map((line) => `${INDENT}${line}`).join('\n'));
    });

  program
    .command('ps:set <app> <key> [value]')
    .description('Set a process setting: restart-policy no|always|on-failure|on-failure:N, stop-timeout SECONDS; no value restores the default')
    .action(async (app: string, key: string, value: string | undefined) => {
      appName(app);
      if (!(PROCESS_SETTING_KEYS as readonly string[]).includes(key)) {
        throw new UsageError(`Unknown process setting "${key}". Settings: ${PROCESS_SETTING_KEYS.join(', ')}. Example: pier ps:set ${app} restart-policy on-failure:5`);
      }
      checked(processSettingSchema, { key, value });
      out(value === undefined ? `-----> Restoring the default ${key} of ${app}` : `-----> Setting ${key} of ${app} to ${value}`);
      const change = await (await client()).json<SettingsChange<ProcessSettingsReport>>('PATCH', `/api/apps/${app}/ps/settings`, { key, value });
      if (key === 'restart-policy') {
        out(`${INDENT}Restart policy: ${change.report.restartPolicy}`);
        showApplied(app, change.applied);
      } else {
        out(`${INDENT}Every stop from now on sends SIGTERM, then SIGKILL after ${change.report.stopTimeoutSec}s`);
      }
    });

  program
    .command('ps:report <app>')
    .description("Show the app's process settings: restart policy, stop timeout, stopped types")
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const report = await (await client()).json<ProcessSettingsReport>('GET', `/api/apps/${appName(app)}/ps/settings`);
      if (opts.json) return out(JSON.stringify(report, null, 2));
      const dflt = (key: ProcessSettingsReport['defaults'][number]) => (report.defaults.includes(key) ? ' (default)' : '');
      out(`=====> ${app} process settings`);
      out(`${INDENT}Restart policy:  ${report.restartPolicy}${dflt('restart-policy')}`);
      out(`${INDENT}Stop timeout:    ${report.stopTimeoutSec}s${dflt('stop-timeout')}`);
      out(`${INDENT}Stopped:         ${report.stopped.join(', ') || 'none'}`);
    });
}
