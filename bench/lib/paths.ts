import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs from dist/bench/lib/. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const KEYPORT_MAIN = join(REPO_ROOT, 'dist', 'src', 'main.js');
export const KEYPORT_BIN = join(REPO_ROOT, 'bin', 'keyport.js');
export const BARE_PROVIDER = join(REPO_ROOT, 'dist', 'bench', 'baseline', 'bare_provider.js');
