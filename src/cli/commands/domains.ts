import type { Command } from 'commander';
import { domainSchema } from '../../validation.js';
import { appName, client, out, UsageError } from '../common.js';

interface DomainReport {
  app: string;
  global: string;
  domains: string[];
}

function domains(values: string[]): string[] {
  return values.map((value) => {
    const parsed = domainSchema.safeParse(value);
    if (!parsed.success) throw new UsageError(`Invalid domain "${value}": ${parsed.error.issues[0]!.message}`);
    return parsed.data;
  });
}

function print(report: DomainReport): void {
  out(`=====> ${report.app} domains`);
  out(`       ${report.global} (global domain)`);
  for (const d of report.domains) out(`       ${d}`);
}

/** domains:* and urls */
export function registerDomainCommands(program: Command): void {
  program
    .command('domains <app>')
    .description('List the host names an app is served at')
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const report = await (await client()).json<DomainReport>('GET', `/api/apps/${appName(app)}/domains`);
      if (opts.json) return out(JSON.stringify(report, null, 2));
      print(report);
    });

  program
    .command('domains:add <app> <domains...>')
    .description('Serve the app at more host names too (example.com, *.example.com for every subdomain)')
    .action(async (app: string, names: string[]) => {
      print(await (await client()).json<DomainReport>('POST', `/api/apps/${appName(app)}/domains`, { domains: domains(names) }));
    });

  program
    .command('domains:remove <app> <domains...>')
    .description('Stop serving the app at these host names')
    .action(async (app: string, names: string[]) => {
      print(await (await client()).json<DomainReport>('DELETE', `/api/apps/${appName(app)}/domains`, { domains: domains(names) }));
    });

  program
    .command('domains:set-global <domain>')
    .description('Change the global domain: every app is served at APP.<domain> (overrides PIER_DOMAIN, its initial value)')
    .action(async (domain: string) => {
      const [checked] = domains([domain]);
      const result = await (await client()).json<{ global: string }>('PUT', '/api/domains/global', { domain: checked });
      out(`-----> Global domain: ${result.global}; apps are served at <app>.${result.global}`);
    });

  program
    .command('urls <app>')
    .description("Print the app's URLs")
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const urls = await (await client()).json<string[]>('GET', `/api/apps/${appName(app)}/urls`);
      if (opts.json) return out(JSON.stringify(urls, null, 2));
      urls.forEach((u) => out(u));
    });
}
