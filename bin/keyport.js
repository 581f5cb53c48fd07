#!/usr/bin/env node
// Entry for `npx keyport`. Builds the TypeScript once if dist/ is missing (fresh clone), then runs the CLI.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'index.js');
if (!existsSync(entry)) {
  process.stderr.write('keyport: building (first run)…\n');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { stdio: ['ignore', 'ignore', 'inherit'] });
}
await import(pathToFileURL(entry).href);
