import { expect } from 'chai';
import { DEFAULT_TIMEOUTS_SEC, parseManifest, PLUGIN_API_VERSION, runOrder, timeoutMs } from '../../src/plugins/manifest.js';

const valid = { name: 'postgres', version: '1.2.3', description: 'Postgres databases for apps', pierApi: '^1.0.0' };

/** The message parseManifest refuses `raw` with, or undefined when it accepts it. */
function refusal(raw: unknown): string | undefined {
  try {
    parseManifest(raw);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('plugin manifests', () => {
  it('a minimal manifest is accepted, with the defaults filled in', () => {
    const manifest = parseManifest(valid);
    expect(manifest).to.deep.include({ entry: 'index.mjs', priority: 100, defaultEnabled: true, timeouts: {} });
    expect(timeoutMs(manifest, 'event')).to.equal(DEFAULT_TIMEOUTS_SEC.event * 1000);
  });

  it('a name with capitals or an underscore is refused with the rule', () => {
    expect(refusal({ ...valid, name: 'Bad_Name' })).to.include('lowercase letters, digits or dashes');
  });

  it("a name of one of Pier's own command namespaces is refused", () => {
    expect(refusal({ ...valid, name: 'apps' })).to.include("namespace of Pier's own commands");
    expect(refusal({ ...valid, name: 'plugins' })).to.include('pick another plugin name');
  });

  it('a version that is not semver is refused', () => {
    expect(refusal({ ...valid, version: '1.0' })).to.include('version must be a semantic version');
  });

  it('a plugin made for another major API version is refused, naming both versions', () => {
    const message = refusal({ ...valid, pierApi: '^2.0.0' });
    expect(message).to.include('needs plugin API ^2.0.0').and.include(`provides ${PLUGIN_API_VERSION}`);
  });

  it('the API version is checked before the rest, so a newer plugin hears why and not about unknown keys', () => {
    expect(refusal({ ...valid, pierApi: '^1.5.0', dashboard: { icon: 'x' } })).to.include('needs plugin API ^1.5.0');
  });

  it('a missing or malformed pierApi is refused with an example', () => {
    expect(refusal({ name: 'x', version: '1.0.0', description: 'd' })).to.include('pierApi is required').and.include('^1.0.0');
    expect(refusal({ ...valid, pierApi: 'latest' })).to.include('semver range');
  });

  it('an unknown key is refused, so a typo does not pass silently', () => {
    expect(refusal({ ...valid, priorty: 5 })).to.include('priorty');
  });

  it('an entry outside the plugin folder, or not JavaScript, is refused', () => {
    expect(refusal({ ...valid, entry: '../daemon.js' })).to.include('inside the plugin folder');
    expect(refusal({ ...valid, entry: '/etc/passwd.js' })).to.include('inside the plugin folder');
    expect(refusal({ ...valid, entry: 'index.ts' })).to.include('.js or .mjs');
  });

  it('timeouts may be lowered but not raised above the defaults', () => {
    const manifest = parseManifest({ ...valid, timeouts: { event: 2 } });
    expect(timeoutMs(manifest, 'event')).to.equal(2000);
    expect(timeoutMs(manifest, 'command')).to.equal(DEFAULT_TIMEOUTS_SEC.command * 1000);
    expect(refusal({ ...valid, timeouts: { event: DEFAULT_TIMEOUTS_SEC.event + 1 } })).to.include('may lower the default, not raise it');
  });

  it('handlers run by priority, then by name, whatever order the plugins were found in', () => {
    const plugins = [
      { name: 'zeta', priority: 100 },
      { name: 'alpha', priority: 100 },
      { name: 'late', priority: 900 },
      { name: 'early', priority: 5 },
      { name: 'alpha-2', priority: 100 },
    ];
    expect([...plugins].sort(runOrder).map((p) => p.name)).to.deep.equal(['early', 'alpha', 'alpha-2', 'zeta', 'late']);
    expect([...plugins].reverse().sort(runOrder).map((p) => p.name)).to.deep.equal(['early', 'alpha', 'alpha-2', 'zeta', 'late']);
  });
});
