/**
 * The one-line change the deploy benches push to test/fixtures/express-app: its VERSION line,
 * which the app's GET / shows as "version: <VERSION>". Dependencies (and their cache) stay as they are.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commitAll } from '../../test/helpers/test-pier.js';

const VERSION_LINE = /^const VERSION = '([^']*)';$/m;

async function source(repo: string): Promise<{ file: string; text: string; version: string }> {
  const file = path.join(repo, 'server.js');
  const text = await readFile(file, 'utf8');
  const version = VERSION_LINE.exec(text)?.[1];
  if (version === undefined) throw new Error(`${file} (from test/fixtures/express-app) has no line matching ${VERSION_LINE}`);
  return { file, text, version };
}

/** The VERSION the repository's server.js has now. */
export async function fixtureVersion(repo: string): Promise<string> {
  return (await source(repo)).version;
}

/** Rewrites the VERSION line and commits the change. */
export async function versionCommit(repo: string, version: string): Promise<void> {
  const { file, text } = await source(repo);
  await writeFile(file, text.replace(VERSION_LINE, `const VERSION = '${version}';`));
  await commitAll(repo, `bench: version ${version}`);
}
