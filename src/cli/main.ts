#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ApiError } from './api-client.js';
import { registerAppCommands } from './commands/apps.js';
import { registerBuildCommands } from './commands/builds.js';
import { registerCertCommands } from './commands/certs.js';
import { registerConfigCommands } from './commands/config.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerDomainCommands } from './commands/domains.js';
import { registerLogCommands } from './commands/logs.js';
import { addPluginCommands, registerPluginCommands } from './commands/plugins.js';
import { registerProcessCommands } from './commands/processes.js';
import { registerProxyCommands } from './commands/proxy.js';
import { registerProxyTypeCommands } from './commands/proxy-type.js';
import { registerProxyTemplateCommands } from './commands/proxy-template.js';
import { registerResourceCommands } from './commands/resources.js';
import { registerRunCommands } from './commands/run.js';
import { registerStorageCommands } from './commands/storage.js';
import { registerSystemCommands } from './commands/system.js';
import { UsageError } from './common.js';
import { loadEnvFile } from './env-file.js';

loadEnvFile(process.env.PIER_ENV_FILE ?? '/etc/pier/pier.env');

const program = new Command('pier')
  .description('Pier: git push to deploy, on your own server.')
  .showHelpAfterError()
  // pier run passes everything after APP to the command (`pier run app ls -la`), which commander allows only with this.
  .enablePositionalOptions()
  .exitOverride();

// Each group of commands lives in its own module under commands/.
const groups = [registerAppCommands, registerBuildCommands, registerCertCommands, registerConfigCommands, registerDeployCommands, registerDomainCommands, registerLogCommands, registerPluginCommands, registerProcessCommands, registerProxyCommands, registerProxyTypeCommands, registerProxyTemplateCommands, registerResourceCommands, registerRunCommands, registerStorageCommands, registerSystemCommands];
for (const register of groups) {
  register(program);
}

// Then the plugins' commands, when the command line may name one (pier example:hello): they live in the daemon.
addPluginCommands(program, process.argv).then(() => program.parseAsync(process.argv)).catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const message = err instanceof ApiError || err instanceof UsageError ? err.message : (err as Error).message;
  process.stderr.write(` !     ${message}\n`);
  process.exit(1);
});
