import type { Command } from 'commander';
import type { PlaneReport } from '../../api/routes/proxy-type.js';
import { dataPlaneSchema } from '../../proxy-plane.js';
import { checked, client, out } from '../common.js';

function print(report: PlaneReport): void {
  out('=====> Proxy type');
  out(`       Type:     ${report.type}`);
  const s = report.status;
  if (!s) return out('       Serving:  (no router has reported yet)');
  out(`       Serving:  ${s.serving}`);
  if (s.serving === 'nginx') out(`       Reloads:  ${s.reloads}`);
  if (s.error) out(`       Error:    ${s.error}`);
}

/** Switches the data plane, saying so as it goes: `proxy:type TYPE` and `proxy:set --global type TYPE`. */
export async function switchPlane(type: string, json: boolean): Promise<void> {
  const wanted = checked(dataPlaneSchema, type);
  out(`-----> Switching the data plane to ${wanted}`);
  const report = await (await client()).json<PlaneReport>('PUT', '/api/proxy/type', { type: wanted });
  if (json) return out(JSON.stringify(report, null, 2));
  if (report.status?.serving === wanted) out(`       ${wanted} serves HTTP now`);
  else out(`       No router has taken the switch yet; it applies when one runs (pier proxy:type shows where it stands)`);
}

/** proxy:type */
export function registerProxyTypeCommands(program: Command): void {
  program
    .command('proxy:type [type]')
    .description('Show or switch the data plane serving HTTP: builtin (Pier\'s router) or nginx (the nginx-proxy plugin); switching drops no requests')
    .option('--json', 'print JSON')
    .action(async (type: string | undefined, opts: { json?: boolean }) => {
      if (type !== undefined) return switchPlane(type, opts.json === true);
      const report = await (await client()).json<PlaneReport>('GET', '/api/proxy/type');
      if (opts.json) return out(JSON.stringify(report, null, 2));
      print(report);
    });
}
