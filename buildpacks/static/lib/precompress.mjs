// node precompress.mjs ROOT
// Writes FILE.gz (gzip -9) beside each file the static server would serve as
// compressible text, unless the app ships one or gzip saves nothing, so that
// the server answers gzip requests without compressing on the fly. Prints a
// detail line for the build log.
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { constants, gzipSync } from 'node:zlib';
import { contentType, isCompressible, listFiles } from './static-server.mjs';

// Below this, the gzip header eats most of the saving.
const MIN_SIZE = 256;

const root = process.argv[2];
if (!root) {
  console.error('usage: node precompress.mjs ROOT');
  process.exit(2);
}

const { files } = listFiles(root);
let count = 0;
let before = 0;
let after = 0;
for (const [key, file] of files) {
  if (file.size < MIN_SIZE || files.has(`${key}.gz`) || !isCompressible(contentType(key))) continue;
  const gz = gzipSync(readFileSync(file.path), { level: constants.Z_BEST_COMPRESSION });
  if (gz.length >= file.size) continue;
  writeFileSync(`${file.path}.gz`, gz);
  // Same mtime as the original, so both representations carry the same Last-Modified.
  utimesSync(`${file.path}.gz`, file.mtime, file.mtime);
  count += 1;
  before += file.size;
  after += gz.length;
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(
  count === 0
    ? '       No text file large enough to gain from gzip'
    : `       gzip: ${count} file${count === 1 ? '' : 's'}, ${kb(before)} -> ${kb(after)}`,
);
