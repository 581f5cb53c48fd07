#!/usr/bin/env node
// Entry for `npx keyport`. In a fresh clone (sources and TypeScript present, dist/ not built yet)
// it runs `npm run build` once; an installed copy (the Docker image, a package) ships dist/ and
// never compiles anything.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'index.js');
if (!existsSync(entry)) {
  const sourceCheckout = existsSync(join(root, 'tsconfig.json')) && existsSync(join(root, 'node_modules', 'typescript'));
  if (!sourceCheckout) {
    process.stderr.write(`keyport: ${entry} is missing and this is not a source checkout to build it in\n`);
    process.exit(1);
  }
  process.stderr.write('keyport: building (first run)…\n');
  // npm_execpath is npm's own CLI when we run under npx/npm; otherwise npm from PATH.
  const npm = process.env.npm_execpath;
  const [command, args] = npm ? [process.execPath, [npm, 'run', 'build', '--silent']] : ['npm', ['run', 'build', '--silent']];
  execFileSync(command, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
await import(pathToFileURL(entry).href);
