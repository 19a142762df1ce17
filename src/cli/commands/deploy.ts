import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CleanupReport } from '../../build/app-images.js';
import type { BuilderSettings } from '../../state/builder-store.js';
import { builderSettingSchema, imageReferenceSchema } from '../../validation.js';
import { appName, client, configKey, followBuild, out, UsageError } from '../common.js';
import { formatTable } from '../table.js';

const SELECTIONS = ['dockerfile', 'buildpacks', 'auto'];

/** `builder:set APP dockerfile`, or Dokku's `builder:set APP KEY [VALUE]`; no value restores the default. */
function builderSetting(args: string[]) {
  const [first, ...rest] = args;
  const [key, value] = SELECTIONS.includes(first ?? '') && rest.length === 0 ? ['selected', first] : [first, rest.join(' ')];
  const raw =
    key === 'build-args'
      ? { key, value: (value ?? '').split(',').map((k) => k.trim()).filter(Boolean).map(configKey) }
      : { key, value: value === '' || value === 'auto' || value === 'bridge' ? undefined : value };
  const parsed = builderSettingSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(
      `Unknown builder setting "${args.join(' ')}". Use: builder:set APP dockerfile|buildpacks|auto, builder:set APP network none|bridge, or builder:set APP build-args KEY1,KEY2`,
    );
  }
  return parsed.data;
}

function printBuilder(app: string, b: BuilderSettings): void {
  out(`=====> ${app} builder`);
  out(`       Selected:    ${b.selected ?? 'auto (Dockerfile at the root, else buildpacks)'}`);
  out(`       Build args:  ${b.buildArgs.join(', ') || '(none)'}`);
  out(`       Network:     ${b.network ?? 'bridge'}`);
}

export function registerDeployCommands(program: Command): void {
  program
    .command('builder:set <app> <setting...>')
    .description('Choose how the app builds: dockerfile|buildpacks|auto, network none|bridge, build-args KEY1,KEY2')
    .action(async (app: string, setting: string[]) => {
      const body = builderSetting(setting);
      printBuilder(app, await (await client()).json<BuilderSettings>('PATCH', `/api/apps/${appName(app)}/builder`, body));
    });

  program
    .command('builder:report <app>')
    .description("Show the app's builder settings")
    .option('--json', 'print JSON')
    .action(async (app: string, opts: { json?: boolean }) => {
      const settings = await (await client()).json<BuilderSettings>('GET', `/api/apps/${appName(app)}/builder`);
      if (opts.json) return out(JSON.stringify(settings, null, 2));
      printBuilder(app, settings);
    });

  program
    .command('git:from-archive <app> <url-or-file>')
    .description('Deploy a tarball (.tar, .tar.gz, .tar.bz2, .tar.xz): a local file is uploaded, an http(s) URL is downloaded by the server')
    .action(async (app: string, source: string) => {
      appName(app);
      const api = await client();
      let body: Buffer | { url: string };
      if (/^https?:\/\//.test(source)) body = { url: source };
      else if (existsSync(source)) body = await readFile(source);
      else throw new UsageError(`${source} is neither an http(s) URL nor a file here. Pass a tarball's path or URL.`);
      await followBuild((onLine) => api.lines(`/api/apps/${app}/deploy/archive`, onLine, 'POST', body));
    });

  program
    .command('git:from-image <app> <image>')
    .description('Deploy an image already on the server (docker images), without a build')
    .action(async (app: string, image: string) => {
      appName(app);
      const checked = imageReferenceSchema.safeParse(image);
      if (!checked.success) throw new UsageError(`Invalid image "${image}": ${checked.error.issues[0]!.message}`);
      const api = await client();
      await followBuild((onLine) => api.lines(`/api/apps/${app}/deploy/image`, onLine, 'POST', { image }));
    });

  program
    .command('cleanup')
    .description("Remove exited containers, dangling images, and images and build caches of apps that no longer exist")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await (await client()).json<CleanupReport>('POST', '/api/cleanup');
      if (opts.json) return out(JSON.stringify(report, null, 2));
      const rows = [
        ...report.containers.map((c) => ['container', c]),
        ...report.images.map((i) => ['image', i]),
        ...report.volumes.map((v) => ['volume', v]),
      ];
      if (rows.length === 0) return out('-----> Nothing to clean up');
      out(`-----> Removed ${rows.length} object(s)`);
      out(formatTable(['KIND', 'NAME'], rows));
    });
}
