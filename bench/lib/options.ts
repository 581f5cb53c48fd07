import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { REPO_ROOT } from './paths.js';

export type DbKind = 'sqlite' | 'mysql';

/** Scenario ids in the order they run. `6` selects 6a, 6b and 6c. */
export const ALL_SCENARIOS = ['0', '1', '2', '3', '4', '5', '6a', '6b', '6c', '7', '8'] as const;
export type ScenarioId = (typeof ALL_SCENARIOS)[number];

export interface BenchOptions {
  readonly quick: boolean;
  readonly dbs: readonly DbKind[];
  readonly scenarios: readonly ScenarioId[];
  /** Seconds of measured load per scenario. */
  readonly duration: number;
  /** Seconds of discarded load before each measurement. */
  readonly warmup: number;
  readonly connections: number;
  /** Server part of a MySQL/MariaDB URL; the bench creates and drops its own schema there. */
  readonly mysqlUrl: string;
  readonly large: boolean;
  /** Live tokens for the "small" and "large" introspection measurements (10,000 and 1,000,000). */
  readonly largeTokens: { readonly small: number; readonly large: number };
  /** Where the Markdown report goes. */
  readonly out: string;
  readonly outIsDefault: boolean;
  /**
   * Resource indicator for which Keyport issues opaque access tokens (scenarios 2 and 6b); unset,
   * the bench registers https://opaque.bench.keyport.local with `resource:create --format opaque`.
   */
  readonly opaqueResource: string | undefined;
  /**
   * Folder for V8 CPU profiles of the servers (`node --cpu-prof`): one subfolder per server
   * process, summarised at the end of the run. Profiling slows the servers; numbers of a
   * profiled run are not results.
   */
  readonly profileDir: string | undefined;
  /** Extra environment for the Keyport process (KEY=VALUE). */
  readonly keyportEnv: Readonly<Record<string, string>>;
  /** The command line as a user would type it, for the report. */
  readonly command: string;
}

function positiveInt(name: string) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a whole number above 0`);
    return value;
  };
}

function positiveNumber(name: string) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a number above 0`);
    return value;
  };
}

export function parseScenarioList(raw: string): ScenarioId[] {
  if (raw.trim() === 'all') return [...ALL_SCENARIOS];
  const wanted = new Set<string>();
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const matches = ALL_SCENARIOS.filter((id) => id === part || (part.length === 1 && id.startsWith(part)));
    if (matches.length === 0) throw new InvalidArgumentError(`unknown scenario "${part}" (known: ${ALL_SCENARIOS.join(', ')}, or all)`);
    for (const id of matches) wanted.add(id);
  }
  if (wanted.size === 0) throw new InvalidArgumentError('no scenario selected');
  return ALL_SCENARIOS.filter((id) => wanted.has(id));
}

function parseDb(raw: string): DbKind[] {
  if (raw === 'both') return ['sqlite', 'mysql'];
  if (raw === 'sqlite' || raw === 'mysql') return [raw];
  throw new InvalidArgumentError('--db must be sqlite, mysql or both');
}

function collectEnv(raw: string, previous: Record<string, string> | undefined): Record<string, string> {
  const at = raw.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('--keyport-env takes KEY=VALUE');
  return { ...previous, [raw.slice(0, at)]: raw.slice(at + 1) };
}

/** Parses `npm run bench -- [options]`. Exits with usage on bad input (commander's behaviour). */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const program = new Command('npm run bench --')
    .description('Load-test a real Keyport process (and a bare oidc-provider baseline) on 127.0.0.1')
    .option('--quick', 'a few seconds per scenario; for smoke runs, not for numbers', false)
    .option('--db <kind>', 'sqlite, mysql or both (default sqlite)', parseDb)
    .option('--scenarios <list>', `comma-separated ids (${ALL_SCENARIOS.join(', ')}; "6" = all of 6), or all (default all)`, parseScenarioList)
    .option('--duration <seconds>', 'measured seconds per scenario (default 20, quick 3)', positiveNumber('--duration'))
    .option('--warmup <seconds>', 'discarded seconds before each measurement (default 3, quick 0.5)', positiveNumber('--warmup'))
    .option('--connections <n>', 'concurrent connections', positiveInt('--connections'), 32)
    .option('--mysql-url <url>', 'MySQL/MariaDB server; a fresh schema is created and dropped', 'mysql://root@127.0.0.1:3306')
    .option('--large', 'also measure introspection with 10,000 vs 1,000,000 live tokens, and RSS after 1,000,000 (slow)', false)
    .option('--large-tokens <small,large>', 'token counts for --large', '10000,1000000')
    .option('--out <file>', 'Markdown report (default bench/RESULTS.md; --quick writes to a temp file)')
    .option('--opaque-resource <uri>', 'resource indicator for which Keyport issues opaque tokens (scenarios 2, 6b); default: one the bench registers with resource:create')
    .option('--profile <dir>', 'write CPU profiles of the servers into DIR (node --cpu-prof) and print a summary; slows them down')
    .option('--keyport-env <KEY=VALUE>', 'extra environment for the Keyport process (repeatable)', collectEnv)
    .allowExcessArguments(false);
  program.parse([...argv], { from: 'user' });
  const raw = program.opts<{
    quick: boolean; db?: DbKind[]; scenarios?: ScenarioId[]; duration?: number; warmup?: number; connections: number;
    mysqlUrl: string; large: boolean; largeTokens: string; out?: string; opaqueResource?: string; profile?: string; keyportEnv?: Record<string, string>;
  }>();

  const [small, large] = raw.largeTokens.split(',').map(Number);
  if (!Number.isInteger(small) || !Number.isInteger(large) || small! <= 0 || large! <= small!) {
    program.error('--large-tokens takes two whole numbers, small,large with large > small');
  }
  const out = raw.out
    ? resolve(process.cwd(), raw.out)
    : raw.quick
      ? join(tmpdir(), `keyport-bench-quick-${process.pid}.md`)
      : join(REPO_ROOT, 'bench', 'RESULTS.md');
  return Object.freeze({
    quick: raw.quick,
    dbs: raw.db ?? (['sqlite'] as DbKind[]),
    scenarios: raw.scenarios ?? [...ALL_SCENARIOS],
    duration: raw.duration ?? (raw.quick ? 3 : 20),
    warmup: raw.warmup ?? (raw.quick ? 0.5 : 3),
    connections: raw.connections,
    mysqlUrl: raw.mysqlUrl,
    large: raw.large,
    largeTokens: { small: small!, large: large! },
    out,
    outIsDefault: raw.out === undefined,
    opaqueResource: raw.opaqueResource,
    profileDir: raw.profile === undefined ? undefined : resolve(process.cwd(), raw.profile),
    keyportEnv: raw.keyportEnv ?? {},
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
  });
}
