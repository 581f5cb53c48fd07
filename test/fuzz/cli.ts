/**
 * `npm run fuzz -- [--runs N] [--seed S] [--path P]`: the fuzz suite of `npm test` for longer,
 * with a fresh seed unless one is given. Prints the seed first; a failure prints the seed and
 * path that replay it (`npm run fuzz -- --seed S --path P`).
 */
import { randomInt } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Mocha from 'mocha';

function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const index = args.indexOf(`--${name}`);
  if (index !== -1) return args[index + 1];
  return args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const usage = 'usage: npm run fuzz -- [--runs N] [--seed S] [--path P]';
const runs = option('runs') ?? '2000';
const seed = option('seed');
const path = option('path');
if (!/^\d+$/.test(runs) || (seed !== undefined && !/^-?\d+$/.test(seed))) {
  console.error(usage);
  process.exit(2);
}

process.env.KEYPORT_FUZZ_RUNS = runs;
process.env.KEYPORT_FUZZ_SEED = seed ?? String(randomInt(0, 2 ** 31));
process.env.KEYPORT_FUZZ_RANDOM_SEED = seed === undefined ? '1' : '0';
if (path !== undefined) process.env.KEYPORT_FUZZ_PATH = path;
console.log(`fuzz: ${runs} requests per family, seed ${process.env.KEYPORT_FUZZ_SEED}${path ? `, path ${path}` : ''}`);

const mocha = new Mocha({ timeout: 0, reporter: 'spec' });
mocha.addFile(join(dirname(fileURLToPath(import.meta.url)), 'routes.fuzz.test.js'));
await mocha.loadFilesAsync();
mocha.run((failures) => process.exit(failures > 0 ? 1 : 0));
