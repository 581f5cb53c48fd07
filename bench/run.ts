/**
 * `npm run bench`: drives a real Keyport process (and, in the same run, a bare oidc-provider
 * as the baseline) on 127.0.0.1 with autocannon, prints a table and writes a Markdown report.
 * See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
import { dirname, join } from 'node:path';
import { startBaseline } from './lib/baseline.js';
import { checkMysqlServer } from './lib/databases.js';
import { startKeyport, type Available, type KeyportInstance } from './lib/keyport.js';
import { measureLarge, type LargeServer } from './lib/large.js';
import type { Measurement } from './lib/load.js';
import { localMysqlServerPid } from './lib/local_server.js';
import { profileReport } from './lib/profile.js';
import { parseOptions, type BenchOptions, type DbKind, type ScenarioId } from './lib/options.js';
import { REPO_ROOT } from './lib/paths.js';
import { stopAllServers, type ServerProcess } from './lib/processes.js';
import { largeLines, markdownReport, terminalTable, type RunInfo } from './lib/report.js';
import { baselineIdFor, type LargeResult, type Row } from './lib/results.js';
import { sampleMemory } from './lib/rss.js';
import { SERVER_NODE_OPTIONS } from '../src/server_node_options.js';
import { scenarioById, type BenchTarget, type Prepared, type RunSettings } from './lib/scenarios.js';
import { keyportTarget } from './lib/setup.js';

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

/** Keyport instances still open, closed (and their MySQL schemas dropped) on Ctrl-C too. */
const openInstances = new Set<KeyportInstance>();
/** A server that died under load is a finding, not noise: the run then exits non-zero. */
const crashed: string[] = [];

/** True (and logged once) when the server has died. */
function noteCrash(server: ServerProcess): boolean {
  if (server.exitStatus === undefined) return false;
  if (!crashed.includes(server.name)) {
    crashed.push(server.name);
    log(`${server.name} exited (${server.exitStatus}) during the run; log tail:\n${server.logTail()}`);
  }
  return true;
}

async function runScenarios(target: BenchTarget, server: ServerProcess, db: DbKind | undefined, ids: readonly ScenarioId[], settings: RunSettings): Promise<Row[]> {
  const rows: Row[] = [];
  const who = target.kind === 'bare' ? 'bare engine' : `keyport ${db}`;
  for (const id of ids) {
    const scenario = scenarioById(id);
    const base = { id, title: scenario.title, server: target.kind, db } as const;
    if (noteCrash(server)) {
      rows.push({ ...base, outcome: { kind: 'unavailable', reason: `${server.name} exited (${server.exitStatus}) during the run` } });
      continue;
    }
    let prepared: Available<Prepared>;
    try {
      prepared = await scenario.prepare(target, settings.connections);
    } catch (err) {
      prepared = { ok: false as const, reason: `probe failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!prepared.ok) {
      log(`${who} ${id} ${scenario.title}: unavailable (${prepared.reason})`);
      rows.push({ ...base, outcome: { kind: 'unavailable', reason: prepared.reason } });
      continue;
    }
    const memory = sampleMemory(server.pid);
    let measurement: Measurement;
    try {
      measurement = await prepared.value.measure({ ...settings, serverPid: server.pid });
    } catch (err) {
      memory.stop();
      const reason = `failed while measuring: ${err instanceof Error ? err.message : String(err)}`;
      log(`${who} ${id} ${scenario.title}: ${reason}`);
      rows.push({ ...base, outcome: { kind: 'unavailable', reason } });
      continue;
    }
    const report = memory.stop();
    rows.push({ ...base, outcome: { kind: 'measured', measurement, memory: report, note: prepared.value.note } });
    log(`${who} ${id} ${scenario.title}: ${Math.round(measurement.perSecond)}/s, p99 ${measurement.p99Ms.toFixed(1)} ms, ${measurement.errors} errors`);
  }
  noteCrash(server);
  return rows;
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

const loadAverage = (): string => loadavg().map((n) => n.toFixed(2)).join(' / ');

async function main(options: BenchOptions): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'keyport-bench-'));
  try {
    await benchmark(options, workDir);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function benchmark(options: BenchOptions, workDir: string): Promise<void> {
  const settings: RunSettings = { duration: options.duration, warmup: options.warmup, connections: options.connections };
  const startLoad = loadAverage();
  const date = new Date().toISOString();
  log(`${options.command}: ${options.dbs.join('+')}, scenarios ${options.scenarios.join(',')}, ${options.connections} connections, ${options.duration} s each${options.quick ? ' (quick)' : ''}`);
  const rows: Row[] = [];
  const large: LargeResult[] = [];
  const databases: string[] = [];

  if (options.dbs.includes('mysql')) await checkMysqlServer(options.mysqlUrl);

  const profileDir = (name: string): string | undefined => {
    if (!options.profileDir) return undefined;
    const dir = join(options.profileDir, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  // The bare engine runs beside each Keyport and is measured right before the Keyport scenario it
  // is the reference of, in each database's block: this machine's speed drifts by tens of percent
  // within minutes, and a bare figure taken once at the start misstated every later ratio.
  const baseline = await startBaseline(workDir, profileDir('bare'));
  try {
    for (const db of options.dbs) await benchmarkDatabase(db);
  } finally {
    await baseline.server.stop();
  }

  async function benchmarkDatabase(db: DbKind): Promise<void> {
    const instance = await startKeyport({ db, mysqlUrl: options.mysqlUrl, extraEnv: options.keyportEnv, profileDir: profileDir(`keyport-${db}`) });
    openInstances.add(instance);
    databases.push(instance.database.label);
    try {
      log(`keyport (${db}) ready on ${instance.server.url}, pid ${instance.server.pid}; creating the bench client, agent and user through the CLI`);
      const target = await keyportTarget(instance, options.scenarios, options.opaqueResource);
      // MariaDB's own CPU per request, when it runs here: on MySQL a request's work is split between the two.
      const databasePid = db === 'mysql' ? localMysqlServerPid(options.mysqlUrl) : undefined;
      const bareDone = new Set<ScenarioId>();
      for (const id of options.scenarios) {
        const bareId = baselineIdFor(id);
        if (bareId && !bareDone.has(bareId)) {
          bareDone.add(bareId);
          rows.push(...await runScenarios(baseline.target, baseline.server, db, [bareId], settings));
        }
        rows.push(...await runScenarios(target, instance.server, db, [id], { ...settings, databasePid }));
      }
      noteCrash(instance.server);
    } catch (err) {
      log(`keyport (${db}) log tail:\n${instance.server.logTail()}`);
      throw err;
    } finally {
      await instance.close();
      openInstances.delete(instance);
    }

    if (options.large) {
      // Fresh instances, one per size, each with a database of its own: the RSS after 1,000,000
      // tokens must not carry the scenarios above, and the two sizes are measured side by side.
      const started: KeyportInstance[] = [];
      try {
        const servers: LargeServer[] = [];
        for (let i = 0; i < 2; i++) {
          const fresh = await startKeyport({ db, mysqlUrl: options.mysqlUrl, extraEnv: { TOKEN_TTL: '86400', ...options.keyportEnv } });
          openInstances.add(fresh);
          started.push(fresh);
          const target = await keyportTarget(fresh, ['1', '2', '3', '6a', '6b', '6c'], options.opaqueResource);
          servers.push({ target, pid: fresh.server.pid, databasePid: db === 'mysql' ? localMysqlServerPid(options.mysqlUrl) : undefined });
        }
        large.push(await measureLarge(db, { small: servers[0]!, large: servers[1]! }, { ...settings, ...options.largeTokens, log }));
        for (const fresh of started) noteCrash(fresh.server);
      } finally {
        for (const fresh of started) {
          await fresh.close();
          openInstances.delete(fresh);
        }
      }
    }
  }

  const cpuList = cpus();
  const info: RunInfo = {
    command: options.command,
    date,
    machine: `${cpuList[0]?.model.trim() ?? 'unknown CPU'}, ${osType()} ${release()}`,
    cpus: cpuList.length,
    memoryGb: totalmem() / 1024 ** 3,
    node: process.version,
    commit: gitCommit(),
    versions: `oidc-provider ${packageVersion('oidc-provider')}, autocannon ${packageVersion('autocannon')}`,
    loadAverage: { start: startLoad, end: loadAverage() },
    connections: options.connections,
    duration: options.duration,
    warmup: options.warmup,
    quick: options.quick,
    databases,
  };
  const notes = [
    'Scenario 5 sends a new session_id with every exchange, so each request mints a token (the same-token path is scenario 4).',
    'Scenario 8: each virtual user completes authorize (PKCE S256) → login page → consent if asked → callback → code redemption, with fresh cookies each time, against a user whose password hash has the production bcrypt cost (BCRYPT_ROUNDS unset); latency is the whole login.',
    `Keyport runs as \`node ${SERVER_NODE_OPTIONS.join(' ')} dist/src/main.js\` (as \`npm start\` runs it) with NODE_ENV unset (plain HTTP on loopback, REQUIRE_HTTPS=false); the bare engine runs as \`node dist/bench/baseline/bare_provider.js\`.`,
  ];
  process.stdout.write(`\n${terminalTable(rows, options.connections, options.quick)}\n`);
  if (large.length) process.stdout.write(`\n${largeLines(large).join('\n')}\n`);
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${markdownReport(info, rows, large, notes)}\n`);
  process.stdout.write(`\nreport: ${options.out}${options.quick && options.outIsDefault ? ' (quick mode never overwrites bench/RESULTS.md)' : ''}\n`);
  if (options.profileDir) {
    // The servers wrote their profiles when they exited (SIGTERM → graceful exit).
    for (const name of readdirSync(options.profileDir)) {
      process.stdout.write(`\nCPU profile, ${name} (profiling slows the server: these rates are not results)\n${profileReport(join(options.profileDir, name))}`);
    }
  }
  if (crashed.length) throw new Error(`${crashed.join(', ')} exited during the run (see the log tail above)`);
}

async function cleanUp(): Promise<void> {
  await Promise.allSettled([...openInstances].map((instance) => instance.close()));
  await stopAllServers();
}

process.on('SIGINT', () => {
  log('interrupted: stopping servers and dropping bench databases');
  void cleanUp().finally(() => process.exit(130));
});

const options = parseOptions(process.argv.slice(2));
main(options).then(
  () => process.exit(0),
  async (err: unknown) => {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await cleanUp();
    process.exit(1);
  },
);
