// Types for resolve-version.mjs (the buildpack runs it as plain JS on the tool Node).

export interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: (string | number)[];
}

export interface RangeTest {
  op: '>=' | '>' | '<=' | '<' | '=';
  version: Version;
}

export interface PackageMetadata {
  'dist-tags'?: Record<string, string>;
  versions: Record<string, { engines?: Record<string, unknown>; deprecated?: unknown }>;
}

/** Parses a full version ("22.11.0", "v1.2.3-rc.1+build"); null if it is not one. */
export function parseVersion(text: string): Version | null;

/** Orders two parsed versions like semver: -1, 0 or 1. */
export function compareVersions(a: Version, b: Version): number;

/** Alternatives (||) of tests (AND). Throws a TypeError naming an invalid range. */
export function parseRange(range: string): RangeTest[][];

/** True when `version` lies in `range`. Throws a TypeError for an invalid range. */
export function satisfies(version: string, range: string): boolean;

/**
 * The newest release in `versions` that satisfies `range`, or null.
 * Prereleases and non-versions are ignored; order does not matter.
 * Throws a TypeError for an invalid range.
 */
export function resolveVersion(range: string, versions: Iterable<string>): string | null;

/** The sorted, distinct majors of the releases in `versions`. */
export function availableMajors(versions: Iterable<string>): number[];

/**
 * The npm release for `nodeVersion`: with `range` the newest in it, else the newest
 * (up to dist-tags.latest, and within `ceiling` if given) whose engines.node accepts
 * `nodeVersion`; null if none.
 */
export function selectNpmVersion(
  metadata: PackageMetadata,
  options: { range?: string | null; nodeVersion: string; ceiling?: string },
): string | null;

export interface PackageManagerPin {
  name: 'npm' | 'pnpm' | 'yarn';
  version: string;
  hash: { algorithm: string; hex: string } | null;
}

/** Parses package.json's packageManager ("pnpm@9.12.0", "yarn@4.5.0+sha512.<hex>"). Throws a TypeError. */
export function parsePackageManager(field: unknown): PackageManagerPin;

/** The npm package that ships a manager's releases (Yarn 2+: @yarnpkg/cli-dist). */
export function managerPackage(name: string, berry: boolean): string;

/** pnpm-lock.yaml's lockfileVersion, yarn.lock's __metadata.version, or "v1" for a Yarn 1 yarn.lock; null if none. */
export function lockfileVersion(name: string, text: string): string | null;

export interface PackageManagerChoice {
  manager: 'npm' | 'pnpm' | 'yarn';
  package: string;
  range: string;
  source: string;
  hash: { algorithm: string; hex: string } | null;
  lockfile: string | null;
}

/**
 * The app's package manager and the range of its releases: packageManager, else engines.<manager>,
 * else the releases that write its lockfile. Throws an Error with a message for the user.
 */
export function choosePackageManager(app: {
  packageManager?: unknown;
  engines?: Record<string, unknown>;
  lockfiles: Record<string, string>;
}): PackageManagerChoice;
