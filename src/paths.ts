import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout Pier runs from: one level above src/ (sources) or dist/ (built). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const buildpacksDir = path.join(projectRoot, 'buildpacks');
