import type { Command } from 'commander';
import { readAdminToken, setup } from '../../setup.js';
import { out, settings, UsageError } from '../common.js';

/** token, setup and daemon: the commands run on the server itself */
export function registerSystemCommands(program: Command): void {
  program
    .command('token')
    .description('Print the admin API token (on the server, as root)')
    .action(async () => {
      const token = await readAdminToken(settings());
      if (!token) throw new UsageError(`No admin token at ${settings().tokensDir}/admin. Run ./install.sh (or pier setup) as root first.`);
      out(token);
    });

  program
    .command('setup')
    .description('Prepare PIER_HOME and Redis state, and create the admin token (run by install.sh)')
    .action(async () => {
      const result = await setup(settings());
      out(`-----> State schema v${result.schema}; admin token ${result.tokenCreated ? 'created' : 'kept'}`);
    });

  program
    .command('daemon')
    .description('Run the Pier daemon: API, git endpoint, build worker and router (PIER_ROUTER_WORKERS router processes)')
    .option('--role <roles>', 'comma-separated roles to run: api,router,worker', 'api,router,worker')
    .action(async (opts: { role: string }) => {
      const { startDaemon, ALL_ROLES } = await import('../../daemon.js');
      const roles = opts.role.split(',').map((r) => r.trim());
      const unknown = roles.filter((r) => !(ALL_ROLES as string[]).includes(r));
      if (unknown.length > 0) throw new UsageError(`Unknown role ${unknown.join(', ')}; roles are ${ALL_ROLES.join(', ')}`);
      const daemon = await startDaemon(settings(), roles as typeof ALL_ROLES);
      let stopping = false;
      // A second signal must not cut the graceful close short: systemd signals router workers itself, and so does their primary.
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        daemon.log.info({ signal }, 'shutting down; apps keep running');
        daemon.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
