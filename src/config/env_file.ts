import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import type { Env } from './parse.js';
import { ConfigError } from './errors.js';

/**
 * A `.env` file, as the server and the CLI read it before `loadConfig`.
 *
 * Why relative paths are resolved against the file: `keyport agent:create` run from a
 * subdirectory of the project (or `npm --prefix`) must write to the same `./data/keyport.db` the
 * server started in the project root reads. Without a file nothing changes: paths stay relative
 * to the working directory, as before.
 */
export interface EnvFile {
  /** Absolute path of the file that was read. */
  readonly path: string;
  /** Its variables, relative paths already made absolute against its directory. */
  readonly values: Readonly<Record<string, string>>;
}

/** The result: the environment to hand to `loadConfig`, and the directory relative paths start from. */
export interface ResolvedEnvironment {
  readonly env: Env;
  readonly cwd: string;
  readonly file?: EnvFile;
}

/** Variables holding paths (or a `sqlite:` URL) that a file's directory anchors. */
const PATH_VARIABLES = ['DATA_DIR', 'TLS_CERT', 'TLS_KEY'] as const;

/** Names the file explicitly; when unset, `.env` is looked for (see `findEnvFile`). */
export const ENV_FILE_VARIABLE = 'KEYPORT_ENV_FILE';

/**
 * The nearest `.env`: in `start`, else in its parents up to the project root (the first directory
 * holding a package.json or .git), never above it, so an unrelated file in a home directory is not
 * picked up.
 */
export function findEnvFile(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, '.env');
    if (isFile(candidate)) return candidate;
    if (existsSync(join(dir, 'package.json')) || existsSync(join(dir, '.git'))) return undefined;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Reads and parses one file (Node's own parser, the one `node --env-file` uses). */
export function readEnvFile(path: string): EnvFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(ENV_FILE_VARIABLE, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const base = dirname(path);
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (value !== undefined) values[name] = value;
  }
  for (const name of PATH_VARIABLES) {
    const value = values[name];
    if (value !== undefined && value !== '' && !isAbsolute(value)) values[name] = resolve(base, value);
  }
  const url = values.DATABASE_URL;
  if (url?.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== '' && file !== ':memory:' && !isAbsolute(file)) values.DATABASE_URL = `sqlite:${resolve(base, file)}`;
  }
  return { path, values };
}

/**
 * The process environment with a `.env` underneath: a variable set in the environment wins over
 * the file (as with `node --env-file` and dotenv). With a file, the default `./data` is the one
 * next to the file. `KEYPORT_ENV_FILE` names the file; otherwise `findEnvFile(cwd)`.
 */
export function withEnvFile(env: Env, cwd: string): ResolvedEnvironment {
  const named = env[ENV_FILE_VARIABLE];
  const path = named ? resolve(cwd, named) : findEnvFile(cwd);
  if (!path) return { env, cwd };
  if (named && !isFile(path)) throw new ConfigError(ENV_FILE_VARIABLE, `${path} is not a file`);
  const file = readEnvFile(path);
  const defaults = { DATA_DIR: join(dirname(path), 'data') };
  return { env: { ...defaults, ...file.values, ...definedOnly(env) }, cwd, file };
}

function definedOnly(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  return out;
}
