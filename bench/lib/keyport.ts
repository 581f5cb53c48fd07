import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchDatabase, type BenchDatabase } from './databases.js';
import type { DbKind } from './options.js';
import { KEYPORT_BIN, KEYPORT_MAIN, REPO_ROOT } from './paths.js';
import { freePort, spawnServer, type ServerProcess } from './processes.js';
import { SERVER_NODE_OPTIONS } from '../../src/server_node_options.js';

/** A value a scenario needs, or why it could not be had (so the scenario reports "unavailable"). */
export type Available<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export const available = <T>(value: T): Available<T> => ({ ok: true, value });
export const unavailable = <T = never>(reason: string): Available<T> => ({ ok: false, reason });

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A real Keyport process (`node` with SERVER_NODE_OPTIONS `dist/src/main.js`, as `npm start`) on its own port, data folder and database. */
export interface KeyportInstance {
  readonly server: ServerProcess;
  readonly database: BenchDatabase;
  /** The environment the server got; the CLI runs with the same one, as an operator would. */
  readonly env: NodeJS.ProcessEnv;
  cli(args: string[]): Promise<CliResult>;
  /** SIGTERM, wait for the graceful exit, drop the database and the work folder. */
  close(): Promise<void>;
}

export interface KeyportStartOptions {
  readonly db: DbKind;
  readonly mysqlUrl: string;
  readonly extraEnv: Readonly<Record<string, string>>;
  /** Write a V8 CPU profile of the server into this folder (written when it exits gracefully). */
  readonly profileDir?: string;
}

/**
 * The settings of a benchmark run: plain HTTP on loopback, rate limits lifted, production bcrypt
 * cost (BCRYPT_ROUNDS unset), logs at the default level into a file.
 */
function keyportEnv(port: number, workDir: string, database: BenchDatabase, extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    // localhost may resolve to ::1 first, where nothing listens.
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: database.url,
    DATA_DIR: workDir,
    KEYPORT_SECRET: randomBytes(36).toString('base64url'),
    REQUIRE_HTTPS: 'false',
    // The switch the rate-limit feature provides for benchmarks; and, for builds without it,
    // the per-key defaults at the top of their validated ranges.
    RATE_LIMIT_DISABLED: 'true',
    RATE_LIMIT_PER_MIN: '10000000',
    RATE_LIMIT_PER_HOUR: '100000000',
    RATE_LIMIT_BURST: '10000000',
    // The per-client limit at the token endpoint too: with limits switched on (--keyport-env
    // RATE_LIMIT_DISABLED=false, docs/benchmarks.md) client credentials would otherwise get 429s.
    RATE_LIMIT_CLIENT_PER_MIN: '10000000',
    ...extra,
  };
}

export async function startKeyport(options: KeyportStartOptions): Promise<KeyportInstance> {
  const workDir = mkdtempSync(join(tmpdir(), `keyport-bench-${options.db}-`));
  let database: BenchDatabase;
  try {
    database = await createBenchDatabase(options.db, workDir, options.mysqlUrl);
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const env = keyportEnv(port, workDir, database, options.extraEnv);
  let server: ServerProcess;
  try {
    server = await spawnServer({
      name: `keyport (${options.db})`,
      script: KEYPORT_MAIN,
      // Started as `npm start` and the Dockerfile start it (src/server_node_options.ts).
      nodeArgs: [...SERVER_NODE_OPTIONS, ...profileArgs(options.profileDir)],
      env,
      url: `http://127.0.0.1:${port}`,
      readyPath: '/readyz',
      logFile: join(workDir, 'keyport.log'),
      cwd: REPO_ROOT,
    });
  } catch (err) {
    // Keep the work folder: its keyport.log says why the server did not start (the error quotes its tail).
    await database.drop().catch(() => {});
    throw err;
  }

  return {
    server,
    database,
    env,
    cli: (args) => runCli(args, env),
    async close() {
      await server.stop();
      await database.drop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** node options that write a CPU profile into `dir` when the process exits (nothing when unset). */
export function profileArgs(dir: string | undefined): string[] {
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** `node bin/keyport.js ARGS`, exactly what `npx keyport` runs. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [KEYPORT_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** "keyport client:create exited 1: error: unknown command 'client:create'" */
export function describeCliFailure(args: string[], result: CliResult): string {
  const line = (result.stderr || result.stdout).split('\n').map((s) => s.trim()).find(Boolean) ?? '';
  return `keyport ${args[0]} exited ${result.code}${line ? `: ${line.slice(0, 160)}` : ''}`;
}

/** Runs a `--json` CLI command and returns its one JSON object. */
export async function cliJson(instance: Pick<KeyportInstance, 'cli'>, args: string[]): Promise<Available<Record<string, unknown>>> {
  const result = await instance.cli(args);
  if (result.code !== 0) return unavailable(describeCliFailure(args, result));
  try {
    const parsed: unknown = JSON.parse(result.stdout.trim().split('\n').pop() ?? '');
    if (parsed && typeof parsed === 'object') return available(parsed as Record<string, unknown>);
  } catch {
    // fall through
  }
  return unavailable(`keyport ${args[0]} --json did not print one JSON object`);
}
