// Version resolution for the Node.js buildpack.
//
// The pure part (parseVersion, compareVersions, satisfies, resolveVersion,
// selectNpmVersion) has no dependencies, so it runs on the stack's tool Node
// without an npm install and is unit-tested from test/unit/.
//
// It implements the subset of npm's semver ranges that package.json files use:
// exact versions, `x`/`X`/`*`, partials (`20`, `20.x`, `20.11`), `^`, `~`
// (and `~>`), `>=`, `>`, `<=`, `<`, `=`, space-separated AND, `||`, and hyphen
// ranges (`18 - 20.x`). A leading `v` is accepted. Published prereleases are
// never chosen (resolveVersion skips them), as with npm's default.
//
// The CLI part (bottom of the file) is what bin/compile runs; see usage().

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** @typedef {{ major: number, minor: number, patch: number, pre: (string|number)[] }} Version */

const NUM = '0|[1-9]\\d*';
const VERSION_RE = new RegExp(
  `^v?(${NUM})\\.(${NUM})\\.(${NUM})(?:-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`,
);
const WILD = '[xX*]';
const PART = `(?:${NUM}|${WILD})`;
// A comparator: operator, then a version that may be partial or use wildcards.
const COMPARATOR_RE = new RegExp(
  `^(<=|>=|<|>|=|\\^|~>?)?v?(${PART})(?:\\.(${PART})(?:\\.(${PART})(?:-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?(?:\\+[0-9A-Za-z-.]+)?)?)?$`,
);
const PARTIAL_RE = new RegExp(
  `^v?(${PART})(?:\\.(${PART})(?:\\.(${PART})(?:-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?(?:\\+[0-9A-Za-z-.]+)?)?)?$`,
);

/**
 * Parses a full version ("22.11.0", "v1.2.3-rc.1+build"); null if it is not one.
 * @param {string} text
 * @returns {Version | null}
 */
export function parseVersion(text) {
  const m = VERSION_RE.exec(String(text).trim());
  if (!m) return null;
  const pre = m[4] ? m[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [];
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre };
}

/**
 * Orders two parsed versions like semver: -1, 0 or 1.
 * @param {Version} a
 * @param {Version} b
 * @returns {number}
 */
export function compareVersions(a, b) {
  for (const key of /** @type {const} */ (['major', 'minor', 'patch'])) {
    if (a[key] !== b[key]) return a[key] < b[key] ? -1 : 1;
  }
  // A release is greater than any of its prereleases.
  if (a.pre.length === 0 || b.pre.length === 0) {
    if (a.pre.length === b.pre.length) return 0;
    return a.pre.length === 0 ? 1 : -1;
  }
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const xNum = typeof x === 'number';
    const yNum = typeof y === 'number';
    if (xNum && !yNum) return -1;
    if (!xNum && yNum) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** @param {number} major @param {number} minor @param {number} patch @param {(string|number)[]} [pre] @returns {Version} */
const v = (major, minor, patch, pre = []) => ({ major, minor, patch, pre });
const isWild = (/** @type {string | undefined} */ part) => part === undefined || /^[xX*]$/.test(part);

/**
 * A wildcard may only be followed by wildcards: "1.x.x" is a range, "x.7" is not.
 * @param {string} text
 * @param {...(string | undefined)} parts
 */
function assertTrailingWildcards(text, ...parts) {
  let seenWild = false;
  for (const part of parts) {
    if (part === undefined) break;
    if (isWild(part)) seenWild = true;
    else if (seenWild) throw new TypeError(`Invalid version range: "${text}" has a number after a wildcard`);
  }
}

/**
 * One primitive test: { op: '>=' | '>' | '<=' | '<' | '=', version }.
 * @typedef {{ op: '>=' | '>' | '<=' | '<' | '=', version: Version }} Test
 */

/**
 * Expands one comparator ("^20.1", ">=18", "20.x") into primitive tests.
 * Returns [] for "match anything" and null for "match nothing".
 * @param {string} text
 * @returns {Test[] | null}
 */
function expandComparator(text) {
  const m = COMPARATOR_RE.exec(text);
  if (!m) throw new TypeError(`Invalid version range: "${text}" is not a version or comparator`);
  const op = m[1] === '~>' ? '~' : (m[1] ?? '');
  const [xM, xm, xp] = [m[2], m[3], m[4]].map(isWild);
  assertTrailingWildcards(text, m[2], m[3], m[4]);
  const M = xM ? 0 : Number(m[2]);
  const mi = xm ? 0 : Number(m[3]);
  const p = xp ? 0 : Number(m[4]);
  const pre = m[5] && !xp ? m[5].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [];

  switch (op) {
    case '^': {
      if (xM) return [];
      const lower = { op: /** @type {const} */ ('>='), version: v(M, mi, p, pre) };
      let upper;
      if (M > 0 || xm) upper = v(M + 1, 0, 0);
      else if (mi > 0 || xp) upper = v(0, mi + 1, 0);
      else upper = v(0, 0, p + 1);
      return [lower, { op: '<', version: upper }];
    }
    case '~': {
      if (xM) return [];
      const upper = xm ? v(M + 1, 0, 0) : v(M, mi + 1, 0);
      return [{ op: '>=', version: v(M, mi, p, pre) }, { op: '<', version: upper }];
    }
    case '>':
      if (xM) return null; // >* matches nothing
      if (xm) return [{ op: '>=', version: v(M + 1, 0, 0) }];
      if (xp) return [{ op: '>=', version: v(M, mi + 1, 0) }];
      return [{ op: '>', version: v(M, mi, p, pre) }];
    case '>=':
      if (xM) return [];
      return [{ op: '>=', version: v(M, mi, p, pre) }];
    case '<':
      if (xM) return null; // <* matches nothing
      return [{ op: '<', version: v(M, mi, p, pre) }];
    case '<=':
      if (xM) return [];
      if (xm) return [{ op: '<', version: v(M + 1, 0, 0) }];
      if (xp) return [{ op: '<', version: v(M, mi + 1, 0) }];
      return [{ op: '<=', version: v(M, mi, p, pre) }];
    default: // '' or '=': an X-range or an exact version
      if (xM) return [];
      if (xm) return [{ op: '>=', version: v(M, 0, 0) }, { op: '<', version: v(M + 1, 0, 0) }];
      if (xp) return [{ op: '>=', version: v(M, mi, 0) }, { op: '<', version: v(M, mi + 1, 0) }];
      return [{ op: '=', version: v(M, mi, p, pre) }];
  }
}

/**
 * Expands "A - B" into primitive tests.
 * @param {string} from
 * @param {string} to
 * @returns {Test[] | null}
 */
function expandHyphen(from, to) {
  const a = PARTIAL_RE.exec(from);
  const b = PARTIAL_RE.exec(to);
  if (!a || !b) throw new TypeError(`Invalid version range: "${from} - ${to}" is not a hyphen range`);
  assertTrailingWildcards(to, b[1], b[2], b[3]);
  const lower = expandComparator(`>=${from}`) ?? [];
  /** @type {Test[]} */
  let upper;
  if (isWild(b[1])) upper = [];
  else if (isWild(b[2])) upper = [{ op: '<', version: v(Number(b[1]) + 1, 0, 0) }];
  else if (isWild(b[3])) upper = [{ op: '<', version: v(Number(b[1]), Number(b[2]) + 1, 0) }];
  else upper = /** @type {Test[]} */ (expandComparator(`<=${to}`));
  return [...lower, ...upper];
}

/**
 * Parses a range into a list of alternatives (||), each a list of tests (AND).
 * Throws a TypeError naming the range when it is not a valid range.
 * @param {string} range
 * @returns {Test[][]}
 */
export function parseRange(range) {
  if (typeof range !== 'string') throw new TypeError(`Invalid version range: ${JSON.stringify(range)} is not a string`);
  /** @type {Test[][]} */
  const alternatives = [];
  for (const rawSet of range.split('||')) {
    // "> = 1"-style spacing: glue operators to their version, as npm does.
    const set = rawSet.trim().replace(/(<=|>=|<|>|=|\^|~>?)\s+/g, '$1');
    if (set === '') {
      alternatives.push([]);
      continue;
    }
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(set);
    /** @type {Test[] | null} */
    let tests;
    try {
      if (hyphen) {
        tests = expandHyphen(hyphen[1], hyphen[2]);
      } else {
        tests = [];
        for (const part of set.split(/\s+/)) {
          const expanded = expandComparator(part);
          if (expanded === null) {
            tests = null;
            break;
          }
          tests.push(...expanded);
        }
      }
    } catch (err) {
      if (err instanceof TypeError) throw new TypeError(`Invalid version range "${range}": ${err.message.replace(/^Invalid version range: /, '')}`);
      throw err;
    }
    if (tests !== null) alternatives.push(tests);
  }
  return alternatives;
}

/**
 * @param {Version} version
 * @param {Test} test
 */
function passes(version, test) {
  const c = compareVersions(version, test.version);
  switch (test.op) {
    case '>=': return c >= 0;
    case '>': return c > 0;
    case '<=': return c <= 0;
    case '<': return c < 0;
    default: return c === 0;
  }
}

/**
 * True when `version` lies in `range` (a prerelease `version` only matches a
 * comparator on the same major.minor.patch with a prerelease, like npm).
 * @param {string} version
 * @param {string} range
 * @returns {boolean}
 */
export function satisfies(version, range) {
  const parsed = parseVersion(version);
  if (!parsed) return false;
  return parseRange(range).some((tests) => {
    if (!tests.every((t) => passes(parsed, t))) return false;
    if (parsed.pre.length === 0) return true;
    return tests.some(
      (t) => t.version.pre.length > 0 && t.version.major === parsed.major && t.version.minor === parsed.minor && t.version.patch === parsed.patch,
    );
  });
}

/**
 * The newest release in `versions` that satisfies `range`, or null.
 * Prereleases and strings that are not versions are ignored; the order of
 * `versions` does not matter. Throws a TypeError for an invalid range.
 * @param {string} range
 * @param {Iterable<string>} versions
 * @returns {string | null}
 */
export function resolveVersion(range, versions) {
  const alternatives = parseRange(range);
  /** @type {{ text: string, parsed: Version } | null} */
  let best = null;
  for (const text of versions) {
    const parsed = parseVersion(text);
    if (!parsed || parsed.pre.length > 0) continue;
    if (best && compareVersions(parsed, best.parsed) <= 0) continue;
    if (alternatives.some((tests) => tests.every((t) => passes(parsed, t)))) best = { text, parsed };
  }
  return best ? best.text : null;
}

/**
 * The sorted, distinct majors of the releases in `versions` (for error messages).
 * @param {Iterable<string>} versions
 * @returns {number[]}
 */
export function availableMajors(versions) {
  const majors = new Set();
  for (const text of versions) {
    const parsed = parseVersion(text);
    if (parsed && parsed.pre.length === 0) majors.add(parsed.major);
  }
  return [.../** @type {Set<number>} */ (majors)].sort((a, b) => a - b);
}

/**
 * Chooses the npm version for a Node version from the npm package's metadata:
 * with `range` (engines.npm) the newest release in it; without, the newest
 * release not newer than dist-tags.latest whose engines.node accepts `nodeVersion`
 * (a release without engines.node accepts any). Deprecated releases are skipped
 * unless nothing else matches. Returns null when none fits.
 * @param {{ 'dist-tags'?: Record<string, string>, versions: Record<string, { engines?: Record<string, unknown>, deprecated?: unknown }> }} metadata
 * @param {{ range?: string | null, nodeVersion: string }} options
 * @returns {string | null}
 */
export function selectNpmVersion(metadata, { range, nodeVersion, ceiling = '' }) {
  const all = Object.keys(metadata.versions ?? {});
  const fresh = all.filter((ver) => !metadata.versions[ver]?.deprecated);
  const pick = (/** @type {string[]} */ candidates) => {
    if (range) return resolveVersion(range, candidates);
    const latest = metadata['dist-tags']?.latest;
    const accepted = candidates.filter((ver) => {
      const enginesNode = metadata.versions[ver]?.engines?.node;
      if (enginesNode === undefined || enginesNode === null || enginesNode === '') return true;
      try {
        return typeof enginesNode === 'string' && satisfies(nodeVersion, enginesNode);
      } catch {
        return false; // an engines field npm itself could not parse
      }
    });
    const base = latest && parseVersion(latest) ? `<=${latest}` : '*';
    return resolveVersion(ceiling ? `${base} ${ceiling}` : base, accepted);
  };
  return pick(fresh) ?? pick(all);
}

// ---------------------------------------------------------------------------
// Package manager choice: which of npm, pnpm and Yarn installs the app, and
// which range of its releases to resolve.

const HASH_ALGORITHMS = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512'];

/**
 * Parses package.json's packageManager field, as Corepack writes it:
 * "pnpm@9.12.0" or "yarn@4.5.0+sha512.<hex>". The version must be exact.
 * Throws a TypeError that says what is wrong.
 * @param {unknown} field
 * @returns {{ name: string, version: string, hash: { algorithm: string, hex: string } | null }}
 */
export function parsePackageManager(field) {
  const text = typeof field === 'string' ? field.trim() : '';
  const m = /^(npm|pnpm|yarn)@([^+\s]+)(?:\+(\w+)\.([0-9a-fA-F]+))?$/.exec(text);
  if (!m) {
    throw new TypeError(`packageManager ${JSON.stringify(field)} is not of the form "<manager>@<version>" (manager: npm, pnpm or yarn)`);
  }
  if (!parseVersion(m[2])) throw new TypeError(`packageManager "${text}" must pin an exact version such as "${m[1]}@${m[1] === 'yarn' ? '4.5.0' : '9.12.0'}"`);
  if (m[3] && !HASH_ALGORITHMS.includes(m[3])) {
    throw new TypeError(`packageManager "${text}" uses the hash algorithm ${m[3]}; supported: ${HASH_ALGORITHMS.join(', ')}`);
  }
  return { name: m[1], version: m[2].replace(/^v/, ''), hash: m[3] ? { algorithm: m[3], hex: m[4].toLowerCase() } : null };
}

/** The npm package that ships a manager's releases: Yarn 2 and later come from @yarnpkg/cli-dist. */
export function managerPackage(/** @type {string} */ name, /** @type {boolean} */ berry) {
  return name === 'yarn' && berry ? '@yarnpkg/cli-dist' : name;
}

/**
 * The version of a lockfile, from its text: pnpm-lock.yaml's lockfileVersion
 * ("9.0"), yarn.lock's __metadata.version for Yarn 2+ ("8"), or "v1" for a
 * Yarn 1 lockfile (which has no __metadata block). Null when none is found.
 * @param {string} name
 * @param {string} text
 * @returns {string | null}
 */
export function lockfileVersion(name, text) {
  if (name === 'pnpm-lock.yaml') return /^lockfileVersion:\s*['"]?([^'"\s]+)/m.exec(text)?.[1] ?? null;
  if (name === 'yarn.lock') {
    if (!/^__metadata:\s*$/m.test(text)) return 'v1';
    return /^__metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+version:\s*['"]?(\d+)/m.exec(text)?.[1] ?? null;
  }
  return null;
}

// Which releases write each lockfile version, and therefore accept it under
// `pnpm install --frozen-lockfile` / `yarn install --immutable` without wanting
// to rewrite it (Yarn 2+ refuses any other __metadata.version). Checked against
// the published packages: pnpm 7 writes 5.4, pnpm 8 writes 6.0 (pnpm 7.33 and 8
// also read 6.1), pnpm 9, 10 and 11 write 9.0 (we pick 9, as pnpm 10 blocks
// dependencies' build scripts by default); Yarn 2.x and 3.0 write 4 (3.0 breaks
// on Node 20), 3.1 writes 5, 3.2 to 3.8 write 6, 4.0 to 4.13 write 8, 4.14
// writes 9, 4.15 and later write 10.
const LOCKFILE_RANGES = {
  'pnpm-lock.yaml': { '5.3': '6', '5.4': '7', '6.0': '8', '6.1': '8', '9.0': '9' },
  'yarn.lock': { v1: '1', 4: '2', 5: '3.1', 6: '>=3.2 <4', 8: '>=4.0 <4.14', 9: '4.14', 10: '>=4.15 <5' },
};

const LOCKFILE_MANAGERS = [
  { file: 'npm-shrinkwrap.json', manager: 'npm' },
  { file: 'package-lock.json', manager: 'npm' },
  { file: 'pnpm-lock.yaml', manager: 'pnpm' },
  { file: 'yarn.lock', manager: 'yarn' },
];

/**
 * Chooses the package manager of an app and the range of its releases to
 * install: packageManager (package.json) wins, else the lockfile's manager;
 * npm without a lockfile. The range is packageManager's exact version, else
 * engines.<manager>, else the releases that wrote the lockfile (npm: "", the
 * newest npm that supports the node version). Throws an Error with a message
 * for the user when the app is ambiguous or a lockfile version is unknown.
 * @param {{ packageManager?: unknown, engines?: Record<string, unknown>, lockfiles: Record<string, string> }} app
 *   lockfiles maps the names of the lockfiles present to their text
 * @returns {{ manager: string, package: string, range: string, source: string, hash: { algorithm: string, hex: string } | null, lockfile: string | null }}
 */
export function choosePackageManager({ packageManager, engines = {}, lockfiles }) {
  const pinned = packageManager === undefined || packageManager === null ? null : parsePackageManager(packageManager);
  const present = LOCKFILE_MANAGERS.filter(({ file }) => file in lockfiles);
  const managers = [...new Set(present.map((l) => l.manager))];
  if (managers.length > 1) {
    const list = present.map((l) => `${l.file} (${l.manager})`).join(', ');
    const keep = pinned?.name;
    const drop = keep ? present.filter((l) => l.manager !== keep).map((l) => l.file).join(' and ') : null;
    throw new Error(
      [
        `Lockfiles of more than one package manager are committed: ${list}.`,
        drop
          ? `packageManager says ${keep}: delete ${drop}, commit and push again.`
          : 'Pier cannot tell which manager the app uses. Delete the lockfile of the one you do not use, commit and push again.',
      ].join('\n'),
    );
  }
  const manager = pinned?.name ?? managers[0] ?? 'npm';
  const lockfile = present.find((l) => l.manager === manager)?.file ?? null;
  const version = lockfile ? lockfileVersion(lockfile, lockfiles[lockfile]) : null;
  const berry = manager === 'yarn' && (pinned ? Number(pinned.version.split('.')[0]) >= 2 : version !== null && version !== 'v1');
  const result = (/** @type {string} */ range, /** @type {string} */ source) => ({
    manager, package: managerPackage(manager, berry), range, source, hash: pinned?.hash ?? null, lockfile,
  });
  if (pinned) return result(pinned.version, `packageManager "${String(packageManager).trim().replace(/\+.*/, '+…')}" in package.json`);
  const fromEngines = engines[manager];
  if (typeof fromEngines === 'string' && fromEngines.trim() !== '') return result(fromEngines, `engines.${manager} "${fromEngines}" in package.json`);
  if (manager === 'npm') return result('', lockfile ? lockfile : 'no lockfile');
  const known = /** @type {Record<string, Record<string, string>>} */ (LOCKFILE_RANGES)[/** @type {string} */ (lockfile)];
  const range = version === null ? undefined : known?.[version];
  const described = lockfile === 'yarn.lock' ? (version === 'v1' ? 'yarn.lock (Yarn 1 format)' : `yarn.lock __metadata.version ${version}`) : `${lockfile} lockfileVersion ${version}`;
  if (range === undefined) {
    throw new Error(
      [
        `Pier does not know which ${manager} release writes ${version === null ? `${lockfile} without a version` : described}.`,
        `Pin the ${manager} version the app uses in package.json, for example "packageManager": "${manager}@<version>"`,
        `(\`${manager} --version\` prints it), then push again.`,
      ].join('\n'),
    );
  }
  return result(range, described);
}

// ---------------------------------------------------------------------------
// CLI, run by bin/compile with the stack's tool Node.

function usage() {
  return [
    'usage: resolve-version.mjs node METADATA_JSON RANGE',
    '       resolve-version.mjs npm  METADATA_JSON NODE_VERSION [RANGE]',
    '       resolve-version.mjs tool METADATA_JSON RANGE NODE_VERSION BIN_NAME',
    '       resolve-version.mjs package-manager APP_DIR',
    '',
    'node, npm, tool: print "VERSION<TAB>TARBALL_URL<TAB>INTEGRITY<TAB>SHASUM" for the',
    'chosen release; tool adds <TAB>BIN (the file of its bin BIN_NAME), then npm and tool',
    'add <TAB>ENGINES_NODE (set when the release does not declare support for NODE_VERSION).',
    'package-manager: prints six lines, MANAGER, PACKAGE, RANGE, SOURCE, HASH ("<algorithm>',
    '<hex>" from packageManager) and LOCKFILE; any of the last four may be empty.',
    'Exit 0: resolved; 2: usage, invalid range or ambiguous app; 3: nothing matches;',
    '4: unreadable metadata. The reason for a non-zero exit is printed on stderr.',
  ].join('\n');
}

/** @param {string} appDir @returns {number} */
function packageManagerMain(appDir) {
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8'));
  } catch (err) {
    process.stderr.write(`Could not read package.json: ${/** @type {Error} */ (err).message}\n`);
    return 2;
  }
  /** @type {Record<string, string>} */
  const lockfiles = {};
  for (const { file } of LOCKFILE_MANAGERS) {
    if (existsSync(join(appDir, file))) lockfiles[file] = readFileSync(join(appDir, file), 'utf8').slice(0, 4096);
  }
  const engines = pkg.engines && typeof pkg.engines === 'object' ? pkg.engines : {};
  try {
    const chosen = choosePackageManager({ packageManager: pkg.packageManager, engines, lockfiles });
    const hash = chosen.hash ? `${chosen.hash.algorithm} ${chosen.hash.hex}` : '';
    process.stdout.write(`${[chosen.manager, chosen.package, chosen.range, chosen.source, hash, chosen.lockfile ?? ''].join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${/** @type {Error} */ (err).message}\n`);
    return 2;
  }
}

/**
 * The engines.node of `version` when it does not accept `nodeVersion`, else "".
 * @param {{ engines?: Record<string, unknown> } | undefined} release
 * @param {string} nodeVersion
 */
function unsupportedNode(release, nodeVersion) {
  const enginesNode = release?.engines?.node;
  if (typeof enginesNode !== 'string' || enginesNode === '') return '';
  try {
    return satisfies(nodeVersion, enginesNode) ? '' : enginesNode;
  } catch {
    return '';
  }
}

/** @param {string[]} argv @returns {number} */
function main(argv) {
  const [kind, file, ...rest] = argv;
  if (kind === 'package-manager' && file) return packageManagerMain(file);
  const arity = { node: 1, npm: 1, tool: 3 }[/** @type {'node'} */ (kind)];
  if (!arity || !file || rest.length < arity) {
    process.stderr.write(`${usage()}\n`);
    return 2;
  }
  let metadata;
  try {
    metadata = JSON.parse(readFileSync(file, 'utf8'));
    if (!metadata || typeof metadata.versions !== 'object') throw new Error('no "versions" object');
  } catch (err) {
    process.stderr.write(`Could not read package metadata ${file}: ${/** @type {Error} */ (err).message}\n`);
    return 4;
  }
  const versions = Object.keys(metadata.versions);
  let chosen;
  try {
    if (kind === 'npm') {
      const [nodeVersion, range] = rest;
      chosen = selectNpmVersion(metadata, { range: range || null, nodeVersion, ceiling: process.env.DEFAULT_NPM_CEILING ?? '' });
      if (!chosen) {
        process.stderr.write(
          range
            ? `No npm release matches the version range "${range}".\nAvailable majors: ${availableMajors(versions).join(', ')}.\n`
            : `No npm release declares support for Node.js ${nodeVersion} (engines.node).\n`,
        );
        return 3;
      }
    } else {
      const [range] = rest;
      chosen = resolveVersion(range, versions.filter((ver) => !metadata.versions[ver]?.deprecated)) ?? resolveVersion(range, versions);
      if (!chosen) {
        process.stderr.write(
          `No ${kind === 'node' ? 'Node.js' : metadata.name ?? 'package'} release matches the version range "${range}".\n` +
            `Available majors: ${availableMajors(versions).join(', ')}.\n`,
        );
        return 3;
      }
    }
  } catch (err) {
    if (err instanceof TypeError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const release = metadata.versions[chosen];
  const dist = release?.dist ?? {};
  const fields = [chosen, dist.tarball ?? '', dist.integrity ?? '', dist.shasum ?? ''];
  // Tell compile when the chosen release does not declare support for the node version.
  if (kind === 'npm') fields.push(unsupportedNode(release, rest[0]));
  if (kind === 'tool') {
    const bin = typeof release?.bin === 'string' ? release.bin : release?.bin?.[rest[2]];
    fields.push(typeof bin === 'string' ? bin.replace(/^\.\//, '') : '', unsupportedNode(release, rest[1]));
  }
  process.stdout.write(`${fields.join('\t')}\n`);
  return 0;
}

function invokedDirectly() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = main(process.argv.slice(2));
}
