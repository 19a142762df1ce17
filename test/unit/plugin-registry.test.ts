import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { discover, isEnabled } from '../../src/plugins/registry.js';

describe('plugin discovery', () => {
  let root: string;
  const builtin = () => path.join(root, 'builtin');
  const installed = () => path.join(root, 'installed');

  async function plugin(dir: string, name: string, manifest: Record<string, unknown> = {}): Promise<void> {
    await mkdir(path.join(dir, name), { recursive: true });
    const full = { name, version: '1.0.0', description: `the ${name} plugin`, pierApi: '^1.0.0', ...manifest };
    await writeFile(path.join(dir, name, 'plugin.json'), JSON.stringify(full));
    await writeFile(path.join(dir, name, 'index.mjs'), 'export default {};\n');
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'pier-plugins-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('an installed plugin shadows the built-in one of the same name', async () => {
    await plugin(builtin(), 'postgres', { version: '1.0.0' });
    await plugin(installed(), 'postgres', { version: '1.1.0' });
    const found = await discover(builtin(), installed());
    expect(found.get('postgres')).to.deep.include({ source: 'installed' });
    expect(found.get('postgres')!.manifest!.version).to.equal('1.1.0');
  });

  it('an install in progress (a dot folder) is not a plugin yet', async () => {
    await plugin(installed(), '.staging-abc');
    expect([...(await discover(builtin(), installed())).keys()]).to.deep.equal([]);
  });

  it('a folder with a bad manifest, or named after another plugin, is listed with the reason', async () => {
    await plugin(installed(), 'broken', { version: 'one' });
    await plugin(installed(), 'renamed', { name: 'original' });
    const found = await discover(builtin(), installed());
    expect(found.get('broken')!.error).to.include('version must be a semantic version');
    expect(found.get('renamed')!.error).to.include('must be named original');
  });

  it('missing folders mean no plugins, not an error', async () => {
    expect((await discover(path.join(root, 'nope'), path.join(root, 'nothing'))).size).to.equal(0);
  });

  it('a switch wins; without one, the manifest decides; a broken plugin is never enabled', async () => {
    await plugin(builtin(), 'on');
    await plugin(builtin(), 'off', { defaultEnabled: false });
    await plugin(builtin(), 'bad', { pierApi: '^9.0.0' });
    const found = await discover(builtin(), installed());
    expect(isEnabled(found.get('on')!, undefined)).to.equal(true);
    expect(isEnabled(found.get('on')!, 'disabled')).to.equal(false);
    expect(isEnabled(found.get('off')!, undefined)).to.equal(false);
    expect(isEnabled(found.get('off')!, 'enabled')).to.equal(true);
    expect(isEnabled(found.get('bad')!, 'enabled')).to.equal(false);
  });
});
