import type { Command } from 'commander';
import { logLinesSchema, processTypeSchema } from '../../validation.js';
import { appName, client, out, UsageError } from '../common.js';

interface LogsOptions {
  tail?: boolean;
  num: string;
  ps?: string;
}

/** logs */
export function registerLogCommands(program: Command): void {
  program
    .command('logs <app>')
    .description("Show the app's latest log lines (its instances' output, Pier's deploy events and the router's access log, by time); -t keeps following")
    .option('-t, --tail', 'keep streaming new lines, from instances started later too (Ctrl-C stops)')
    .option('-n, --num <lines>', 'how many of the latest lines to show first (1 to 10000)', '100')
    .option('-p, --ps <type>', 'only one process type (web, worker, run) or event source (pier: deploy events, router: access log)')
    .action(async (app: string, opts: LogsOptions) => {
      const num = logLinesSchema.safeParse(opts.num);
      if (!num.success) throw new UsageError(`Invalid -n "${opts.num}": ${num.error.issues[0]!.message}. Example: pier logs ${app} -n 200`);
      if (opts.ps !== undefined && !processTypeSchema.safeParse(opts.ps).success) {
        throw new UsageError(`Invalid -p "${opts.ps}": name a process type (web, worker, run) or an event source (pier, router).`);
      }
      const query = new URLSearchParams({ tail: String(num.data), ...(opts.tail ? { follow: '1' } : {}), ...(opts.ps ? { process: opts.ps } : {}) });
      // `pier logs APP | head` closes the pipe early: that ends the command, it is no error.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));
      await (await client()).follow(`/api/apps/${appName(app)}/logs?${query}`, out);
    });
}
