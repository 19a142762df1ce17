import type { Duplex } from 'node:stream';
import type { Command } from 'commander';
import type { z } from 'zod';
import { detachedRunSchema, encodeFrame, frameEncoder, RUN_UPGRADE, RunFrameDecoder, runRequestSchema } from '../../api/run-protocol.js';
import { parseConfigPairs } from '../../validation.js';
import { ApiError } from '../api-client.js';
import { appName, client, out, UsageError } from '../common.js';

/** What a shell reports for a command killed by SIGPIPE: the reader of our stdout went away. */
const EXIT_SIGPIPE = 141;

interface RunOptions {
  env?: string[];
  /** false with --no-tty */
  tty: boolean;
}

/** The words after APP, where a leading `--` only separates them: `pier run app -- ls -la`. */
function commandOf(words: string[]): string[] {
  return words[0] === '--' ? words.slice(1) : words;
}

function envOf(pairs: string[] = []): Record<string, string> {
  try {
    return parseConfigPairs(pairs);
  } catch (err) {
    throw new UsageError(`-e: ${(err as Error).message}`);
  }
}

/** The API's own schema, so a bad request fails here before it is sent. */
function checked<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new UsageError(`${issue.path.join('.') || 'request'}: ${issue.message}`);
  }
  return result.data;
}

/**
 * Relays the terminal (or the pipes) of this process to the command's and back until it exits,
 * and resolves with its exit code. Output is written as it arrives, pausing the connection while
 * stdout or stderr is full; stdin's end reaches the command as EOF.
 */
export function relay(socket: Duplex, tty: boolean): Promise<number> {
  const stdin = process.stdin;
  const resize = () => socket.write(encodeFrame({ type: 'resize', cols: process.stdout.columns, rows: process.stdout.rows }));
  if (tty) {
    stdin.setRawMode(true);
    process.stdout.on('resize', resize);
  }
  const input = stdin.pipe(frameEncoder('stdin'));
  input.pipe(socket, { end: false });
  input.once('end', () => socket.write(encodeFrame({ type: 'stdin-end' })));

  return new Promise((resolve, reject) => {
    const decoder = new RunFrameDecoder();
    let outcome: { code: number } | { error: string } | undefined;
    const reader = (dest: NodeJS.WriteStream) => (data: Buffer) => {
      if (dest.write(data)) return;
      socket.pause();
      dest.once('drain', () => socket.resume());
    };
    const write = { stdout: reader(process.stdout), stderr: reader(process.stderr) };
    for (const dest of [process.stdout, process.stderr]) {
      dest.on('error', () => {
        outcome ??= { code: EXIT_SIGPIPE };
        socket.destroy();
      });
    }
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          if (frame.type === 'stdout' || frame.type === 'stderr') write[frame.type](frame.data);
          else if (frame.type === 'exit') outcome ??= { code: frame.code };
          else if (frame.type === 'error') outcome ??= { error: frame.message };
          else throw new Error(`a ${frame.type} frame is not for the client`);
        }
      } catch (err) {
        outcome ??= { error: `pier run protocol error: ${(err as Error).message}` };
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      // The terminal is the user's again, and stdin no longer keeps this process alive.
      if (tty) {
        process.stdout.off('resize', resize);
        stdin.setRawMode(false);
      }
      stdin.unpipe(input);
      stdin.destroy();
      if (outcome && 'code' in outcome) resolve(outcome.code);
      else reject(new ApiError(0, outcome?.error ?? 'The connection to Pier closed before the command finished. Run it again.'));
    });
  });
}

/** run and run:detached */
export function registerRunCommands(program: Command): void {
  const collect = (value: string, all: string[] = []) => [...all, value];

  program
    .command('run <app> [command...]')
    .description(
      "Run a command in a one-off container of the app's current release, with its config, and exit with the command's code. " +
        'No command: a shell. Options go before APP; everything after APP is the command (`--` may separate it).',
    )
    .passThroughOptions()
    .option('-e, --env <KEY=VALUE>', 'set an env var for this run only (repeatable)', collect)
    .option('--no-tty', 'no terminal, even when stdin and stdout are one')
    .action(async (app: string, words: string[], opts: RunOptions) => {
      const tty = opts.tty && process.stdin.isTTY === true && process.stdout.isTTY === true;
      const env = { ...(tty ? { TERM: process.env.TERM ?? 'xterm' } : {}), ...envOf(opts.env) };
      const size = tty ? { cols: process.stdout.columns, rows: process.stdout.rows } : {};
      const request = checked(runRequestSchema, { command: commandOf(words), tty, env, ...size });
      const socket = await (await client()).upgrade(`/api/apps/${appName(app)}/run`, RUN_UPGRADE, request);
      process.exitCode = await relay(socket, tty);
    });

  program
    .command('run:detached <app> <command...>')
    .description("Run a command in a one-off container in the background; its output goes to the app's log (pier logs APP -p run)")
    .passThroughOptions()
    .option('-e, --env <KEY=VALUE>', 'set an env var for this run only (repeatable)', collect)
    .action(async (app: string, words: string[], opts: Pick<RunOptions, 'env'>) => {
      const request = checked(detachedRunSchema, { command: commandOf(words), env: envOf(opts.env) });
      const started = await (await client()).json<{ name: string; command: string }>('POST', `/api/apps/${appName(app)}/run/detached`, request);
      out(`-----> Running \`${started.command}\` detached as ${started.name}`);
      out(`       Its output goes to the app's log: pier logs ${app} -p run (-t to follow it)`);
    });
}
