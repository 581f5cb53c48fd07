/**
 * `npm run bench:ab -- --dirs BEFORE,AFTER`: an A/B of two (or more) built checkouts in one sitting.
 *
 * `npm run bench` measures one Keyport after the bare engine; on a shared machine the load moves
 * between those minutes, so "× bare" and before/after comparisons across runs mislead. Here every
 * server runs at once (the bare engine, then one Keyport per checkout, each set up by its own
 * checkout's bench harness and CLI, so an older checkout is set up as it expects), and the scenarios
 * are measured round by round, alternating which server goes first; the table gives per-server
 * medians over the rounds, "× bare" per round against the bare engine's rate of the same round.
 *
 * With one process per side, whatever that process made of its code (what the JIT did with its
 * hot paths, where its heap landed) counts in every round, so the rounds are not independent
 * samples of the build. `--fresh` starts every server anew for each round (and stops it after),
 * so the rounds sample that too; it costs a set-up per server per round. "× <first>" is each
 * round's rate against the first checkout's in the same round, the median over the rounds: the
 * A/B's answer, steadier than comparing two medians.
 *
 * Each directory must be built (`npm run build` there). Prints a Markdown table on stdout and each
 * measurement on stderr as it comes.
 */
import { Command, InvalidArgumentError } from 'commander';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { startBaseline as StartBaseline } from './lib/baseline.js';
import type { startKeyport as StartKeyport } from './lib/keyport.js';
import type { Measurement } from './lib/load.js';
import { localMysqlServerPid } from './lib/local_server.js';
import { ALL_SCENARIOS, type ScenarioId } from './lib/options.js';
import type { BenchTarget, Prepared, scenarioById as ScenarioById } from './lib/scenarios.js';
import type { keyportTarget as KeyportTarget } from './lib/setup.js';
import { median } from './lib/stats.js';

/** The scenarios the bare engine can run (see bench/README.md "Baseline"). */
const BARE_SCENARIOS = new Set<ScenarioId>(['1', '2', '6b']);

interface Server {
  readonly name: string;
  readonly pid: number;
  readonly target: BenchTarget;
  readonly close: () => Promise<void>;
}

const positive = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

function parseScenarios(value: string): ScenarioId[] {
  const ids = value.split(',').flatMap((id) => (id === '6' ? ['6a', '6b', '6c'] : [id]));
  for (const id of ids) if (!(ALL_SCENARIOS as readonly string[]).includes(id)) throw new InvalidArgumentError(`unknown scenario ${id}`);
  return ids as ScenarioId[];
}

/** A module of a checkout's compiled bench harness. */
function harness<T>(dir: string, module: string): Promise<T> {
  return import(pathToFileURL(join(dir, 'dist', 'bench', 'lib', module)).href) as Promise<T>;
}

/** `--server-env` values by label. */
type ServerEnv = Record<string, Record<string, string>>;

function collectServerEnv(value: string, previous: ServerEnv): ServerEnv {
  const match = /^([^:]+):([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(value);
  if (!match) throw new InvalidArgumentError('--server-env takes label:NAME=value');
  const [, label, name, setting] = match as unknown as [string, string, string, string];
  return { ...previous, [label]: { ...previous[label], [name]: setting } };
}

async function main(): Promise<void> {
  const options = new Command('bench:ab')
    .requiredOption('--dirs <list>', 'comma-separated built checkouts, e.g. ../before,. (a label may follow =: ../before=before)')
    .option('--db <kind>', 'sqlite or mysql', 'sqlite')
    .option('--mysql-url <url>', 'MySQL/MariaDB server (a fresh schema per checkout)', 'mysql://root@127.0.0.1:3306')
    .option('--scenarios <list>', 'comma-separated ids ("6" = 6a,6b,6c)', parseScenarios, ['1', '3', '4', '6a', '6b', '6c', '7'] as ScenarioId[])
    .option('--rounds <n>', 'rounds (each server measured once per scenario per round)', positive('--rounds'), 3)
    .option('--duration <seconds>', 'measured seconds per measurement', positive('--duration'), 4)
    .option('--warmup <seconds>', 'discarded seconds before each measurement', positive('--warmup'), 1)
    .option('--connections <n>', 'concurrent connections', positive('--connections'), 32)
    .option('--no-bare', 'leave out the bare engine')
    .option('--fresh', 'start every server anew for each round (rounds then also sample what one process made of its code)', false)
    .option('--server-env <label:NAME=value>', 'extra environment for the Keyport of one label, repeatable (e.g. the same checkout twice, once with limits on: --dirs .=off,.=on --server-env on:RATE_LIMIT_DISABLED=false)', collectServerEnv, {})
    .parse()
    .opts<{ dirs: string; db: string; mysqlUrl: string; scenarios: ScenarioId[]; rounds: number; duration: number; warmup: number; connections: number; bare: boolean; fresh: boolean; serverEnv: ServerEnv }>();
  if (options.db !== 'sqlite' && options.db !== 'mysql') throw new InvalidArgumentError('--db must be sqlite or mysql');
  const db = options.db;
  const checkouts = options.dirs.split(',').map((spec) => {
    const [dir, label] = spec.split('=');
    return { dir: resolve(dir!), label: label ?? dir! };
  });

  /** The MySQL/MariaDB server's process when it runs here: its CPU per request is reported too (the bare engine has no database). */
  const databasePid = db === 'mysql' ? localMysqlServerPid(options.mysqlUrl) : undefined;
  let servers: Server[] = [];
  /** Starts the bare engine and one Keyport per checkout, and prepares their scenarios. */
  async function startServers(): Promise<Map<string, Prepared>> {
    if (options.bare) {
      const { startBaseline } = await harness<{ startBaseline: typeof StartBaseline }>(checkouts[0]!.dir, 'baseline.js');
      const bare = await startBaseline(mkdtempSync(join(tmpdir(), 'keyport-ab-bare-')));
      servers.push({ name: 'bare', pid: bare.server.pid, target: bare.target, close: async () => { await bare.server.stop(); } });
    }
    for (const { dir, label } of checkouts) {
      const { startKeyport } = await harness<{ startKeyport: typeof StartKeyport }>(dir, 'keyport.js');
      const { keyportTarget } = await harness<{ keyportTarget: typeof KeyportTarget }>(dir, 'setup.js');
      const instance = await startKeyport({ db, mysqlUrl: options.mysqlUrl, extraEnv: options.serverEnv[label] ?? {} });
      servers.push({ name: label, pid: instance.server.pid, target: await keyportTarget(instance, options.scenarios, undefined), close: () => instance.close() });
    }
    const { scenarioById } = await harness<{ scenarioById: typeof ScenarioById }>(checkouts[0]!.dir, 'scenarios.js');
    const prepared = new Map<string, Prepared>();
    for (const server of servers) {
      for (const id of options.scenarios) {
        if (server.name === 'bare' && !BARE_SCENARIOS.has(id)) continue;
        const ready = await scenarioById(id).prepare(server.target, options.connections);
        if (ready.ok) prepared.set(`${server.name}|${id}`, ready.value);
        else process.stderr.write(`${server.name} ${id}: unavailable (${ready.reason})\n`);
      }
    }
    return prepared;
  }
  async function stopServers(): Promise<void> {
    for (const server of servers) await server.close().catch(() => undefined);
    servers = [];
  }

  try {
    let prepared = await startServers();
    const results = new Map<string, Measurement[]>();
    for (let round = 0; round < options.rounds; round++) {
      if (options.fresh && round > 0) {
        await stopServers();
        prepared = await startServers();
      }
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const id of options.scenarios) {
        for (const server of order) {
          const scenario = prepared.get(`${server.name}|${id}`);
          if (!scenario) continue;
          const m = await scenario.measure({ duration: options.duration, warmup: options.warmup, connections: options.connections, serverPid: server.pid, databasePid: server.name === 'bare' ? undefined : databasePid });
          const key = `${id}|${server.name}`;
          results.set(key, [...(results.get(key) ?? []), m]);
          process.stderr.write(`round ${round + 1} ${id} ${server.name}: ${m.perSecond.toFixed(0)}/s, p99 ${m.p99Ms.toFixed(1)} ms, CPU ${m.cpuPerRequest?.total.toFixed(0) ?? '?'} (${m.cpuPerRequest?.eventLoop.toFixed(0) ?? '?'}) µs/req${m.databaseCpuPerRequest === undefined ? '' : `, DB ${m.databaseCpuPerRequest.toFixed(0)} µs/req`}, ${m.errors} errors\n`);
        }
      }
    }

    const first = checkouts[0]!.label;
    console.log(`${options.db}, ${options.rounds} rounds of ${options.duration} s (warm-up ${options.warmup} s), ${options.connections} connections${options.fresh ? ', fresh servers every round' : ''}; medians over the rounds\n`);
    console.log(`| scenario | server | req/s | × bare | × ${first} | CPU µs/req (loop) | DB CPU µs/req | p99 ms | errors |`);
    console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const id of options.scenarios) {
      // The introspection rows compare with the engine's opaque-token introspection (it cannot introspect JWTs).
      const bare = results.get(`${id === '6a' || id === '6c' ? '6b' : id}|bare`);
      for (const server of servers) {
        const runs = results.get(`${id}|${server.name}`);
        if (!runs) continue;
        const ratio = bare && server.name !== 'bare' ? median(runs.map((m, i) => m.perSecond / bare[i]!.perSecond)).toFixed(2) : '';
        const reference = results.get(`${id}|${first}`);
        const paired = reference && server.name !== 'bare' && server.name !== first ? median(runs.map((m, i) => m.perSecond / reference[i]!.perSecond)).toFixed(2) : '';
        const cpu = runs.every((m) => m.cpuPerRequest) ? `${median(runs.map((m) => m.cpuPerRequest!.total)).toFixed(0)} (${median(runs.map((m) => m.cpuPerRequest!.eventLoop)).toFixed(0)})` : '';
        const databaseCpu = runs.every((m) => m.databaseCpuPerRequest !== undefined) ? median(runs.map((m) => m.databaseCpuPerRequest!)).toFixed(0) : '';
        const errors = runs.reduce((sum, m) => sum + m.errors, 0);
        console.log(`| ${id} | ${server.name} | ${median(runs.map((m) => m.perSecond)).toFixed(0)} | ${ratio} | ${paired} | ${cpu} | ${databaseCpu} | ${median(runs.map((m) => m.p99Ms)).toFixed(1)} | ${errors} |`);
      }
    }
  } finally {
    await stopServers();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`bench:ab: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
