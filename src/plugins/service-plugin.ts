/**
 * The add-on service plugins (postgres, redis) are one plugin made from a description of the
 * service: this module, reached through `pier:sdk`, turns a ServiceKind into the commands
 * create/info/list/link/unlink/promote/destroy/export/import/connect/logs and the app-destroyed
 * and app-renamed handlers. It runs in the plugin's process and reaches Docker and config only
 * through the daemon's capabilities (services.*, config.*).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { CommandContext, CommandDefinition, ExecHandoff, PluginContext, PluginDefinition } from './sdk.js';

export interface ServiceKind {
  /** The plugin's name, also the word in release descriptions: "Attach postgres db". */
  plugin: string;
  title: string;
  /** The config variable's stem: DATABASE gives DATABASE_URL and DATABASE_<COLOR>_URL. */
  variable: string;
  /** The versions Debian's stack release provides, by version → its packages; the first is the default. */
  versions: Record<string, string[]>;
  user: string;
  /** The container's `sh -c` program; $PIER_SERVICE_PASSWORD and $PIER_SERVICE_NAME are set, data goes in /data. */
  script(version: string): string;
  /** Exits 0 once the service accepts connections. */
  ready: string[];
  url(host: string, password: string, name: string): string;
  /** Commands run inside the service for export (stdout: the dump), import (stdin: the dump) and connect (stdin → stdout). */
  exportCmd(name: string, version: string): string[];
  importCmd(name: string, version: string): string[];
  connectCmd(name: string, version: string): string[];
}

interface Link {
  app: string;
  variable: string;
}

interface ServiceRecord {
  version: string;
  createdAt: string;
  links: Link[];
}

/** Dokku's alias colours: a second service linked to an app gets <STEM>_<COLOUR>_URL, the colour picked by the service's name. */
const COLORS = ['AQUA', 'BLACK', 'BLUE', 'FUCHSIA', 'GRAY', 'GREEN', 'LIME', 'MAROON', 'NAVY', 'OLIVE', 'PURPLE', 'RED', 'SILVER', 'TEAL', 'WHITE', 'YELLOW'];
const NAME = /^[a-z][a-z0-9-]{0,30}$/;
/** A service still starting (a fresh initdb) gets this long before link or create give up. */
const READY_TIMEOUT_S = 120;
const LOG_TAIL = 200;
/** The lines of a service's log shown when it fails to start. */
const FAILURE_LOG_LINES = 8;

class Refusal extends Error {}

/** The variable of a second link to an app: `<stem>_<COLOUR>_URL`, the same colour for the same service name every time. */
export function aliasVariable(stem: string, name: string): string {
  return `${stem}_${COLORS[createHash('sha256').update(name).digest()[0]! % COLORS.length]}_URL`;
}

export function defineServicePlugin(kind: ServiceKind): PluginDefinition {
  const recordKey = (name: string) => `service:${name}`;
  const passwordFile = (ctx: PluginContext, name: string) => path.join(ctx.plugin.dataDir, `${name}.password`);
  const primary = `${kind.variable}_URL`;
  const alias = (name: string) => aliasVariable(kind.variable, name);

  async function load(ctx: PluginContext, name: string | undefined): Promise<ServiceRecord> {
    if (!name || !NAME.test(name)) throw new Refusal(`Give the name of a ${kind.title} service: pier ${kind.plugin}:list shows them.`);
    const raw = await ctx.kv.get(recordKey(name));
    if (!raw) throw new Refusal(`No ${kind.title} service ${name}. List them: pier ${kind.plugin}:list`);
    return JSON.parse(raw) as ServiceRecord;
  }
  const save = (ctx: PluginContext, name: string, record: ServiceRecord) => ctx.kv.set(recordKey(name), JSON.stringify(record));
  /** Every service of this kind, by name. */
  async function records(ctx: PluginContext): Promise<Array<[string, ServiceRecord]>> {
    const prefix = recordKey('');
    return Object.entries(await ctx.kv.list())
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, raw]) => [key.slice(prefix.length), JSON.parse(raw) as ServiceRecord]);
  }
  const status = (ctx: PluginContext, name: string) =>
    ctx.call('services.status', { name }) as Promise<{ exists: boolean; running: boolean; state?: string; host: string; volume: string; volumeExists: boolean }>;

  async function url(ctx: PluginContext, name: string): Promise<string> {
    const { host } = await status(ctx, name);
    return kind.url(host, (await readFile(passwordFile(ctx, name), 'utf8')).trim(), name);
  }

  async function start(ctx: PluginContext, name: string, version: string): Promise<void> {
    const password = (await readFile(passwordFile(ctx, name), 'utf8')).trim();
    await ctx.call('services.start', {
      name,
      packages: kind.versions[version],
      user: kind.user,
      script: kind.script(version),
      env: { PIER_SERVICE_PASSWORD: password, PIER_SERVICE_NAME: name },
    });
    await waitReady(ctx, name);
  }

  async function waitReady(ctx: PluginContext, name: string): Promise<void> {
    const started = Date.now();
    const ready = await ctx.call('services.wait', { name, cmd: kind.ready, user: kind.user, timeoutSeconds: READY_TIMEOUT_S });
    if (ready) return;
    // services.wait gives up early only on a service that crashed (and maybe runs again, restarted by Docker).
    const crashed = Date.now() - started < READY_TIMEOUT_S * 1000;
    const tail = ((await ctx.call('services.logs', { name, tail: FAILURE_LOG_LINES }).catch(() => '')) as string).trimEnd();
    const why = crashed ? 'exited as it started' : `did not accept connections within ${READY_TIMEOUT_S}s`;
    throw new Refusal(tail ? `${kind.title} service ${name} ${why}. Its last log lines:\n${tail.replace(/^/gm, '  ')}` : `${kind.title} service ${name} ${why}.`);
  }

  /** A command's handler with its refusals turned into a message on stderr and exit 1, the way Pier's own commands fail. */
  const command = (
    help: string,
    usage: string,
    run: (args: string[], io: CommandContext) => Promise<number | void | ExecHandoff>,
    spec: { stream?: boolean } = {},
  ): CommandDefinition => ({
    help,
    usage,
    ...spec,
    run: async (args, io) => {
      try {
        return await run(args, io);
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        io.stderr.write(`${err.message.replace(/^/gm, ' !     ')}\n`);
        return 1;
      }
    },
  });
  const options = <O extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], opts: O, usage: string) => {
    try {
      return parseArgs({ args, options: opts, allowPositionals: true, strict: true });
    } catch (err) {
      throw new Refusal(`${(err as Error).message}. Usage: pier ${usage}`);
    }
  };

  const mask = (text: string, password: string) => text.replace(password, '********');

  const commands: Record<string, CommandDefinition> = {
    create: command(`Create a ${kind.title} service`, 'NAME [--version V]', async (args, io) => {
      const usage = `${kind.plugin}:create NAME [--version V]`;
      const { positionals, values } = options(args, { version: { type: 'string' } }, usage);
      const [name] = positionals;
      if (!name || !NAME.test(name)) throw new Refusal(`Service names are lowercase letters, digits and dashes, starting with a letter. Usage: pier ${usage}`);
      const available = Object.keys(kind.versions);
      const version = values.version ?? available[0]!;
      if (!Object.hasOwn(kind.versions, version)) throw new Refusal(`${kind.title} ${version} is not available; available versions: ${available.join(', ')}.`);
      if (await io.kv.get(recordKey(name))) throw new Refusal(`${kind.title} service ${name} exists already. See: pier ${kind.plugin}:info ${name}`);
      const before = await status(io, name);
      if (before.exists) {
        throw new Refusal(`A container named ${before.host} exists already, and Pier has no ${kind.title} service ${name} on record. Remove the container (docker rm -f ${before.host}) or pick another name.`);
      }
      io.print(`=====> Creating ${kind.title} ${version} service ${name}`);
      // A password kept from before belongs to the data in a volume kept from before.
      const wrote = await writeFile(passwordFile(io, name), randomBytes(24).toString('hex'), { mode: 0o600, flag: 'wx' }).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
          return false;
        },
      );
      try {
        await start(io, name, version);
      } catch (err) {
        // Half a service is worse than none: the container goes, and the volume and password unless they held data before.
        await io.call('services.remove', { name, volume: !before.volumeExists });
        if (wrote) await rm(passwordFile(io, name), { force: true });
        const kept = before.volumeExists ? `Its volume ${before.volume} held data before, so it stays; nothing else was kept.` : 'Nothing of it was kept.';
        throw new Refusal(`Creating ${kind.title} service ${name} failed: ${(err as Error).message.trimEnd()}\n${kept} Fix the cause, then: pier ${kind.plugin}:create ${name}`);
      }
      await save(io, name, { version, createdAt: new Date().toISOString(), links: [] });
      io.print(`-----> ${kind.title} service ${name} is running`);
      io.print(`       Link it to an app: pier ${kind.plugin}:link ${name} APP`);
    }),

    info: command(`Show a ${kind.title} service (--show-password for the URL in full)`, 'NAME [--show-password] [--json]', async (args, io) => {
      const { positionals, values } = options(args, { json: { type: 'boolean' }, 'show-password': { type: 'boolean' } }, `${kind.plugin}:info NAME`);
      const [name] = positionals;
      const record = await load(io, name);
      const s = await status(io, name!);
      const password = (await readFile(passwordFile(io, name!), 'utf8')).trim();
      const full = await url(io, name!);
      const shown = values['show-password'] ? full : mask(full, password);
      const info = { name, version: record.version, status: s.state ?? 'missing', url: shown, host: s.host, volume: s.volume, links: record.links, createdAt: record.createdAt };
      if (values.json) return io.print(JSON.stringify(info, null, 2));
      io.print(`=====> ${kind.title} service ${name}`);
      for (const [label, value] of [
        ['Version', record.version],
        ['Status', info.status],
        ['URL', shown],
        ['Host', s.host],
        ['Volume', s.volume],
        ['Links', record.links.map((l) => `${l.app} (${l.variable})`).join(', ') || 'none'],
      ] as const) io.print(`       ${`${label}:`.padEnd(9)}${value}`);
    }),

    list: command(`List the ${kind.title} services`, '[--json]', async (args, io) => {
      const { values } = options(args, { json: { type: 'boolean' } }, `${kind.plugin}:list [--json]`);
      const rows = [];
      for (const [name, record] of await records(io)) {
        rows.push({ name, version: record.version, status: (await status(io, name)).state ?? 'missing', links: record.links.map((l) => l.app) });
      }
      if (values.json) return io.print(JSON.stringify(rows, null, 2));
      io.print(`=====> ${kind.title} services`);
      for (const r of rows) io.print(`${r.name.padEnd(20)} ${r.version.padEnd(8)} ${r.status.padEnd(10)} ${r.links.join(', ')}`);
    }),

    link: command(`Link a ${kind.title} service to an app (sets ${primary}, restarts the app)`, 'NAME APP', async ([name, app], io) => {
      const record = await load(io, name);
      if (!app || !(await io.apps.exists(app))) throw new Refusal(`No app ${app ?? ''}. Usage: pier ${kind.plugin}:link NAME APP`);
      if (record.links.some((l) => l.app === app)) throw new Refusal(`${kind.title} service ${name} is linked to ${app} already.`);
      // A service still starting (just created, after a dockerd restart) is waited for, one stopped is started, so the app does not boot into refused connections.
      await start(io, name!, record.version);
      const config = await io.config.get(app);
      const variable = config[primary] === undefined ? primary : alias(name!);
      io.print(`-----> Linking ${kind.plugin} ${name} to ${app} as ${variable}`);
      record.links.push({ app, variable });
      await save(io, name!, record);
      await io.config.set(app, { [variable]: await url(io, name!) }, { description: `Attach ${kind.plugin} ${name}` });
    }),

    unlink: command(`Unlink a ${kind.title} service from an app (removes its variable, restarts the app)`, 'NAME APP', async ([name, app], io) => {
      const record = await load(io, name);
      const link = record.links.find((l) => l.app === app);
      if (!link) throw new Refusal(`${kind.title} service ${name} is not linked to ${app ?? 'that app'}.`);
      io.print(`-----> Unlinking ${kind.plugin} ${name} from ${app} (${link.variable})`);
      record.links = record.links.filter((l) => l !== link);
      await save(io, name!, record);
      await io.config.unset(app!, [link.variable], { description: `Detach ${kind.plugin} ${name}` });
    }),

    promote: command(`Make a linked ${kind.title} service the app's ${primary}`, 'NAME APP', async ([name, app], io) => {
      const record = await load(io, name);
      const link = record.links.find((l) => l.app === app);
      if (!link) throw new Refusal(`${kind.title} service ${name} is not linked to ${app ?? 'that app'}. Link it first: pier ${kind.plugin}:link ${name} APP`);
      if (link.variable === primary) throw new Refusal(`${kind.title} service ${name} is ${app}'s ${primary} already.`);
      const vars: Record<string, string> = { [primary]: await url(io, name!) };
      // The service that was primary keeps its link, under its own alias.
      for (const [otherName, otherRecord] of await records(io)) {
        const demoted = otherName === name ? undefined : otherRecord.links.find((l) => l.app === app && l.variable === primary);
        if (!demoted) continue;
        demoted.variable = alias(otherName);
        vars[demoted.variable] = await url(io, otherName);
        await save(io, otherName, otherRecord);
      }
      const old = link.variable;
      link.variable = primary;
      await save(io, name!, record);
      io.print(`-----> Promoting ${kind.plugin} ${name} to ${primary} of ${app}`);
      await io.config.set(app!, vars, { description: `Promote ${kind.plugin} ${name}` });
      if (!Object.hasOwn(vars, old)) await io.config.unset(app!, [old], { description: `Promote ${kind.plugin} ${name}` });
    }),

    destroy: command(`Destroy a ${kind.title} service and its data (--force)`, 'NAME --force', async (args, io) => {
      const { positionals, values } = options(args, { force: { type: 'boolean' } }, `${kind.plugin}:destroy NAME --force`);
      const [name] = positionals;
      const record = await load(io, name);
      if (record.links.length > 0) {
        const apps = record.links.map((l) => l.app);
        throw new Refusal(`${kind.title} service ${name} is linked to ${apps.join(', ')}. Unlink it first: ${apps.map((a) => `pier ${kind.plugin}:unlink ${name} ${a}`).join('; ')}`);
      }
      if (!values.force) throw new Refusal(`Destroying ${kind.plugin} ${name} deletes its data for good. To go ahead: pier ${kind.plugin}:destroy ${name} --force`);
      io.print(`-----> Destroying ${kind.title} service ${name}`);
      await io.call('services.remove', { name, volume: true });
      await io.kv.delete(recordKey(name!));
      await rm(passwordFile(io, name!), { force: true });
      io.print(`       Service and volume removed`);
    }),

    // export, import and connect hand the caller's stdin, stdout and stderr (or terminal) over to a
    // command in the service: the bytes stream between the caller and Docker, whatever the dump's size.
    export: command(
      `Write a dump of a ${kind.title} service to stdout`,
      'NAME > dump',
      async ([name], io) => {
        const { version } = await load(io, name);
        return { exec: { service: name!, cmd: kind.exportCmd(name!, version), user: kind.user } };
      },
      { stream: true },
    ),

    import: command(
      `Load a dump (from export) on stdin into a ${kind.title} service`,
      'NAME < dump',
      async ([name], io) => {
        const { version } = await load(io, name);
        if (io.tty) throw new Refusal(`Pipe a dump in: pier ${kind.plugin}:import ${name} < dump`);
        io.print(`-----> Importing into ${kind.title} service ${name}`);
        return { exec: { service: name!, cmd: kind.importCmd(name!, version), user: kind.user } };
      },
      { stream: true },
    ),

    connect: command(
      `Open the ${kind.title} client on a service: interactive on a terminal, else it runs what comes in on stdin`,
      'NAME',
      async ([name], io) => {
        const { version } = await load(io, name);
        return { exec: { service: name!, cmd: kind.connectCmd(name!, version), user: kind.user } };
      },
      { stream: true },
    ),

    logs: command(`Show the logs of a ${kind.title} service`, 'NAME [--tail N]', async (args, io) => {
      const { positionals, values } = options(args, { tail: { type: 'string' } }, `${kind.plugin}:logs NAME [--tail N]`);
      const [name] = positionals;
      await load(io, name);
      const tail = Number(values.tail ?? LOG_TAIL);
      if (!Number.isInteger(tail) || tail < 1 || tail > 10_000) throw new Refusal('--tail takes a number of lines from 1 to 10000.');
      io.stdout.write((await io.call('services.logs', { name, tail })) as string);
    }),
  };

  /** Every record with a link to `app`, for the app events. */
  async function linkedTo(ctx: PluginContext, app: string): Promise<Array<[string, ServiceRecord]>> {
    return (await records(ctx)).filter(([, record]) => record.links.some((l) => l.app === app));
  }

  return {
    commands,
    events: {
      // The app and its config are gone: only the service's record of the link is left to drop; the service stays.
      'app-destroyed': async ({ app }, ctx) => {
        for (const [name, record] of await linkedTo(ctx, app)) {
          record.links = record.links.filter((l) => l.app !== app);
          await save(ctx, name, record);
          ctx.progress(`unlinked ${kind.plugin} ${name}`);
        }
      },
      'app-renamed': async ({ from, to }, ctx) => {
        for (const [name, record] of await linkedTo(ctx, from)) {
          for (const l of record.links) if (l.app === from) l.app = to;
          await save(ctx, name, record);
        }
      },
    },
  };
}
