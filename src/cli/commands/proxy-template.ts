import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { TemplateChange, TemplateReport } from '../../api/routes/proxy-template.js';
import { templateSchema } from '../../proxy-template.js';
import { appName, checked, client, out, UsageError } from '../common.js';

async function readTemplate(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`Cannot read the template file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Give the path of a handlebars file (start from pier proxy:template APP's built-in one).`);
  }
}

function print(report: TemplateReport): void {
  if (report.source === 'builtin') {
    out(`=====> ${report.app} nginx template: the built-in one`);
    out(`       File:  ${report.file}`);
    out(`       Give ${report.app} its own: copy that file, edit it, then pier proxy:template ${report.app} FILE`);
    return;
  }
  out(`=====> ${report.app} nginx template: its own (pier proxy:template:reset ${report.app} goes back to the built-in one)`);
  process.stdout.write(report.template.endsWith('\n') ? report.template : `${report.template}\n`);
}

/** Where the template applies, once stored or reset. */
const whenServed = (change: TemplateChange) =>
  change.plane === 'nginx' ? 'nginx serves with it now' : 'it is used once nginx serves HTTP (pier proxy:type nginx); the built-in router does not use templates';

/** proxy:template and proxy:template:reset (Dokku's nginx.conf.sigil, as a command) */
export function registerProxyTemplateCommands(program: Command): void {
  program
    .command('proxy:template <app> [file]')
    .description("Show the app's nginx template, or install FILE (handlebars, the view of the built-in app.conf.hbs) as its own: checked with nginx -t first, refused with the reason")
    .option('--json', 'print JSON')
    .action(async (app: string, file: string | undefined, opts: { json?: boolean }) => {
      const path = `/api/apps/${appName(app)}/proxy/template`;
      const api = await client();
      if (file === undefined) {
        const report = await api.json<TemplateReport>('GET', path);
        if (opts.json) return out(JSON.stringify(report, null, 2));
        return print(report);
      }
      const body = checked(templateSchema, { template: await readTemplate(file) });
      if (!opts.json) out(`-----> Checking ${file} as ${app}'s nginx template`);
      const change = await api.json<TemplateChange>('PUT', path, body);
      if (opts.json) return out(JSON.stringify(change, null, 2));
      out(`       Renders ${change.checked?.join(', ')}; nginx -t accepts it`);
      out(`-----> ${app}'s nginx template set; ${whenServed(change)}`);
    });

  program
    .command('proxy:template:reset <app>')
    .description('Go back to the built-in nginx template for the app')
    .action(async (app: string) => {
      const change = await (await client()).json<TemplateChange>('DELETE', `/api/apps/${appName(app)}/proxy/template`);
      if (!change.removed) return out(`-----> ${app} already uses the built-in nginx template`);
      out(`-----> ${app}'s nginx template reset to the built-in one; ${whenServed(change)}`);
    });
}
