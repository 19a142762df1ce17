import path from 'node:path';
import type { Command } from 'commander';
import { gitUrl } from '../../build/buildpack-source.js';
import type { PluginCommandInfo, PluginInfo } from '../../plugins/host.js';
import { installSourceSchema } from '../../plugins/installer.js';
import { pluginNameSchema } from '../../plugins/manifest.js';
import { RUN_UPGRADE, streamCommandRequestSchema } from '../../api/run-protocol.js';
import { ApiError } from '../api-client.js';
import { checked, client, out, UsageError } from '../common.js';
import { formatTable } from '../table.js';
import { relay } from './run.js';

const INDENT = '       ';
/** Requests carry at most 1 MiB, and base64 grows stdin by a third. */
const MAX_STDIN = 768 * 1024;
const COMMAND_LIST_TIMEOUT_MS = 5000;

function describeRegistration(info: PluginInfo): void {
  if (info.commands.length > 0) out(`${INDENT}Commands: ${info.commands.join(', ')}`);
  if (info.events.length > 0) out(`${INDENT}Handles: ${info.events.join(', ')}`);
  if (info.routes.length > 0) out(`${INDENT}Routes: ${info.routes.map((r) => r.replace(' ', ` /api/plugins/${info.name}/routes`)).join(', ')}`);
}

/** plugins and plugins:* */
export function registerPluginCommands(program: Command): void {
  program
    .command('plugins')
    .description('List plugins: version, state (enabled, disabled, failed) and whether built in or installed')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const plugins = await (await client()).json<PluginInfo[]>('GET', '/api/plugins');
      if (opts.json) return out(JSON.stringify(plugins, null, 2));
      out('=====> Plugins');
      if (plugins.length === 0) return out(`${INDENT}None. Install one: pier plugins:install PATH|GIT_URL`);
      const table = formatTable(['NAME', 'VERSION', 'STATE', 'SOURCE', 'DESCRIPTION'], plugins.map((p) => [p.name, p.version ?? '-', p.state, p.source, p.description ?? '-']));
      out(table.split('\n').map((line) => `${INDENT}${line}`).join('\n'));
      for (const p of plugins.filter((p) => p.error)) out(` !     ${p.name}: ${p.error}`);
    });

  program
    .command('plugins:install <source>')
    .description('Install a plugin from a folder on the server or a git URL (URL#branch-or-tag), and enable it')
    .action(async (source: string) => {
      const body = checked(installSourceSchema, gitUrl.safeParse(source).success ? { url: source } : { path: path.resolve(source) });
      out(`-----> Installing plugin from ${body.url ?? body.path}`);
      const info = await (await client()).json<PluginInfo>('POST', '/api/plugins/install', body);
      out(`-----> Installed ${info.name} ${info.version}: ${info.description}`);
      describeRegistration(info);
    });

  program
    .command('plugins:enable <name>')
    .description('Enable a plugin: its handlers run and its commands appear')
    .action(async (name: string) => {
      const info = await (await client()).json<PluginInfo>('POST', `/api/plugins/${checked(pluginNameSchema, name)}/enable`);
      out(`-----> Enabled ${info.name} ${info.version}`);
      describeRegistration(info);
    });

  program
    .command('plugins:disable <name>')
    .description('Disable a plugin: its process stops, its handlers and commands are gone until enabled again')
    .action(async (name: string) => {
      const info = await (await client()).json<PluginInfo>('POST', `/api/plugins/${checked(pluginNameSchema, name)}/disable`);
      out(`-----> Disabled ${info.name}`);
    });

  program
    .command('plugins:uninstall <name>')
    .description("Uninstall a plugin (built-in ones can only be disabled); its data stays for a reinstall")
    .action(async (name: string) => {
      const result = await (await client()).json<{ name: string; dataDir: string }>('DELETE', `/api/plugins/${checked(pluginNameSchema, name)}`);
      out(`-----> Uninstalled ${result.name}`);
      out(`${INDENT}Its data stays (its key-value store, and ${result.dataDir} on the server) for a reinstall`);
    });
}

/**
 * Adds the plugins' commands (`pier example:hello`) when the command line names none of Pier's
 * own, or asks for help: then they run, show in help, and count for "Did you mean …?". When the
 * API cannot be reached, Pier's own commands still work as ever.
 */
export async function addPluginCommands(program: Command, argv: string[]): Promise<void> {
  const first = argv[2];
  const own = program.commands.some((c) => c.name() === first || c.aliases().includes(first ?? ''));
  if (own) return;
  const asksHelp = first === undefined || ['help', '--help', '-h'].includes(first);
  let commands: PluginCommandInfo[];
  try {
    // A daemon that does not answer must not hold up a typo's "Did you mean …?" for long.
    const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${COMMAND_LIST_TIMEOUT_MS / 1000}s`)), COMMAND_LIST_TIMEOUT_MS).unref());
    commands = await Promise.race([(await client()).json<PluginCommandInfo[]>('GET', '/api/plugins/commands'), late]);
  } catch (err) {
    if (!asksHelp && first?.includes(':')) process.stderr.write(` !     Could not list plugin commands: ${(err as Error).message}\n`);
    return;
  }
  for (const spec of commands) {
    program
      .command(spec.name)
      .description(spec.help)
      .usage(spec.usage ?? '[args...]')
      .argument('[args...]')
      .allowUnknownOption()
      .action((args: string[]) => runPluginCommand(spec, args));
  }
  const namespace = first?.split(':')[0];
  if (!asksHelp && namespace && !commands.some((c) => c.name === first)) await explainUnavailable(namespace);
}

/** A command of a plugin that is installed but not running gets a reason, not just "unknown command". */
async function explainUnavailable(namespace: string): Promise<void> {
  const plugins = await (await client()).json<PluginInfo[]>('GET', '/api/plugins').catch(() => []);
  const plugin = plugins.find((p) => p.name === namespace);
  if (plugin?.state === 'disabled') throw new UsageError(`Plugin ${namespace} is disabled. Enable it: pier plugins:enable ${namespace}`);
  if (plugin?.state === 'failed') throw new UsageError(`Plugin ${namespace} failed: ${plugin.error}`);
}

async function runPluginCommand(spec: PluginCommandInfo, args: string[]): Promise<void> {
  if (spec.stream) return runStreamCommand(spec, args);
  const stdin = spec.stdin && !process.stdin.isTTY ? await readStdin() : undefined;
  let exit: number | undefined;
  let error: string | undefined;
  await (await client()).lines(
    `/api/plugins/${spec.plugin}/commands/${spec.command}`,
    (line) => {
      if (line.trim() === '') return;
      const msg = JSON.parse(line) as { stdout?: string; stderr?: string; encoding?: 'base64'; result?: { exit: number }; error?: string };
      const data = (text: string) => (msg.encoding === 'base64' ? Buffer.from(text, 'base64') : text);
      if (msg.stdout !== undefined) process.stdout.write(data(msg.stdout));
      if (msg.stderr !== undefined) process.stderr.write(data(msg.stderr));
      if (msg.result) exit = msg.result.exit;
      if (msg.error !== undefined) error = msg.error;
    },
    'POST',
    { args, ...(stdin === undefined ? {} : { stdin: stdin.toString('base64') }) },
  );
  if (error !== undefined) throw new ApiError(500, error);
  if (exit === undefined) throw new ApiError(0, 'The API closed the connection before the command finished.');
  process.exitCode = exit;
}

/** A stream command (postgres:connect, export, import) is attached as pier run is: a terminal when this process has one, else its pipes, unlimited. */
async function runStreamCommand(spec: PluginCommandInfo, args: string[]): Promise<void> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  // A terminal nobody sized (script(1), some CI) reports 0 columns: the remote one keeps its default size then.
  const sized = tty && process.stdout.columns > 0 && process.stdout.rows > 0;
  const request = checked(streamCommandRequestSchema, { args, tty, ...(sized ? { cols: process.stdout.columns, rows: process.stdout.rows } : {}) });
  const socket = await (await client()).upgrade(`/api/plugins/${spec.plugin}/commands/${spec.command}`, RUN_UPGRADE, request);
  process.exitCode = await relay(socket, tty);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_STDIN) throw new UsageError(`stdin is over ${MAX_STDIN / 1024} KiB, more than a plugin command takes. Pass a file path instead.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
