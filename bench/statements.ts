/**
 * `npm run capacity:measure`: database statements and Redis commands per request of each bench
 * scenario, the inputs of the capacity model (docs/scaling.md, `npm run capacity`).
 *
 * Keyport runs as the bench runs it (bench/lib/keyport.ts) but with rate limits ON (the counters
 * are Redis traffic a production deployment has), against a MariaDB and a Redis of its own (a
 * private mariadbd and redis-server, so other users of the machine's servers do not show up in the
 * counters). For each scenario it sends exactly --requests requests and reads the servers' own
 * counters before and after: MariaDB's `Com_*` status variables, Redis's `INFO commandstats`. What
 * the instance does when idle (sweeps, flushes) is measured first and subtracted.
 *
 * Writes bench/STATEMENTS.json (read by `npm run capacity`) and prints a table.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { MariadbReplication, query } from '../test/topology/support/mariadb_replication.js';
import { ProcessGroup, privatePort, sleep, waitFor } from '../test/topology/support/processes.js';
import { startKeyport } from './lib/keyport.js';
import { sendAmount } from './lib/load.js';
import { stopAllServers } from './lib/processes.js';
import { scenarioById } from './lib/scenarios.js';
import { keyportTarget } from './lib/setup.js';
import { REPO_ROOT } from './lib/paths.js';
import type { ScenarioId } from './lib/options.js';

const SCENARIOS: readonly ScenarioId[] = ['1', '2', '3', '4', '5', '6a', '6b', '6c', '7'];
const SQL_COUNTERS = ['Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_insert_select', 'Com_replace', 'Com_begin', 'Com_commit', 'Com_rollback', 'Com_stmt_execute'] as const;
/**
 * What Redis counts as commands includes those a Lua script runs inside (the rate-limit counters'
 * script, src/ratelimit/redis_counters.ts: SET, INCRBY, PTTL, EXPIRE to count; GET, PTTL to peek)
 * and those queued in a MULTI. Round trips are the EVALSHA and EXEC calls plus everything else
 * (PUBLISH, PING…).
 */
const INSIDE_SCRIPT_OR_MULTI = new Set(['multi', 'get', 'pttl', 'set', 'incrby', 'expire']);

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const log = (line: string): void => { process.stderr.write(`[statements] ${line}\n`); };

async function sqlCounters(port: number): Promise<Record<string, number>> {
  const rows = await query<Array<{ Variable_name: string; Value: string }>>(port, `SHOW GLOBAL STATUS WHERE Variable_name IN (${SQL_COUNTERS.map((name) => `'${name}'`).join(',')})`);
  return Object.fromEntries(rows.map((row) => [row.Variable_name, Number(row.Value)]));
}

async function redisCounters(client: Redis): Promise<Record<string, number>> {
  const text = await client.info('commandstats');
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) counts[match[1]!] = Number(match[2]);
  return counts;
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) {
    const diff = value - (before[name] ?? 0);
    if (diff > 0) out[name] = diff;
  }
  return out;
}

const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((total, value) => total + value, 0);

async function main(): Promise<void> {
  const requests = option('--requests', 10_000);
  const connections = option('--connections', 16);
  const group = new ProcessGroup();
  const stop = async (): Promise<void> => {
    await stopAllServers();
    await group.stopAll();
  };
  process.once('SIGINT', () => { void stop().then(() => process.exit(130)); });
  try {
    const mariadb = await MariadbReplication.startStandalone(group, 'keyport_statements');
    const redisPort = await privatePort();
    group.start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    const redis = new Redis({ port: redisPort, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100 });
    redis.on('error', () => {});
    await waitFor('redis-server', async () => { await redis.connect().catch(() => undefined); return (await redis.ping()) === 'PONG'; }, 10_000);

    const instance = await startKeyport({
      db: 'mysql',
      mysqlUrl: `mysql://root@127.0.0.1:${mariadb.port}/keyport_statements`,
      extraEnv: {
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        // Counted as in production, never reached.
        RATE_LIMIT_DISABLED: 'false',
        RATE_LIMIT_CLIENT_PER_MIN: '10000000',
        RATE_LIMIT_LOGIN_PER_IP: '10000000',
        RATE_LIMIT_KEY_FAILURES_PER_IP: '10000000',
        RATE_LIMIT_PUBLIC_INTROSPECTION_PER_IP: '10000000',
      },
    });
    try {
      const target = await keyportTarget(instance, SCENARIOS, undefined);
      // Idle: what sweeps and flushes cost without requests, per second.
      const idleSeconds = 5;
      const [idleSqlBefore, idleRedisBefore] = [await sqlCounters(mariadb.port), await redisCounters(redis)];
      await sleep(idleSeconds * 1000);
      const idleSql = delta(await sqlCounters(mariadb.port), idleSqlBefore);
      const idleRedis = delta(await redisCounters(redis), idleRedisBefore);
      // Our own SHOW STATUS and INFO are not Keyport's: one of each per reading.
      const idleSqlPerSecond = Math.max(0, sum(idleSql)) / idleSeconds;
      const idleRedisPerSecond = Math.max(0, sum(idleRedis) - (idleRedis.info ?? 0)) / idleSeconds;
      log(`idle: ${idleSqlPerSecond.toFixed(1)} SQL statements/s, ${idleRedisPerSecond.toFixed(1)} Redis commands/s`);

      const results: Record<string, unknown> = {};
      for (const id of SCENARIOS) {
        const scenario = scenarioById(id);
        const prepared = await scenario.prepare(target, connections);
        if (!prepared.ok || !prepared.value.load) {
          log(`${id}: unavailable (${prepared.ok ? 'not plain HTTP' : prepared.reason})`);
          continue;
        }
        await sleep(1000);
        const sqlBefore = await sqlCounters(mariadb.port);
        const redisBefore = await redisCounters(redis);
        const started = Date.now();
        const measurement = await sendAmount({ ...prepared.value.load, connections }, requests);
        const seconds = (Date.now() - started) / 1000;
        // Write-behind batches (usage counts every 5 s, lastUsedAt) land after the load: wait them out.
        await sleep(6000);
        const elapsed = (Date.now() - started) / 1000;
        const sql = delta(await sqlCounters(mariadb.port), sqlBefore);
        const redisCommands = delta(await redisCounters(redis), redisBefore);
        delete redisCommands.info;
        const answered = measurement.completed;
        const perRequest = (count: number): number => Number((count / answered).toFixed(4));
        const sqlTotal = Math.max(0, sum(sql) - idleSqlPerSecond * elapsed);
        const redisTotal = Math.max(0, sum(redisCommands) - idleRedisPerSecond * elapsed);
        results[id] = {
          title: scenario.title,
          requests: answered,
          errors: measurement.errors,
          seconds: Number(seconds.toFixed(1)),
          sqlPerRequest: perRequest(sqlTotal),
          sqlByKind: Object.fromEntries(Object.entries(sql).map(([name, count]) => [name.replace(/^Com_/, ''), perRequest(count)])),
          redisPerRequest: perRequest(redisTotal),
          redisRoundTripsPerRequest: perRequest(sum(Object.fromEntries(Object.entries(redisCommands).filter(([name]) => !INSIDE_SCRIPT_OR_MULTI.has(name))))),
          redisByCommand: Object.fromEntries(Object.entries(redisCommands).map(([name, count]) => [name, perRequest(count)])),
        };
        log(`${id} ${scenario.title}: ${answered} answered in ${seconds.toFixed(1)} s; ${perRequest(sqlTotal)} SQL statements and ${perRequest(redisTotal)} Redis commands per request (${perRequest(sum(Object.fromEntries(Object.entries(redisCommands).filter(([name]) => !INSIDE_SCRIPT_OR_MULTI.has(name))))) } round trips)`);
      }
      let commit = '';
      try {
        commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
      } catch {
        // not a checkout
      }
      const out = {
        command: `npm run capacity:measure -- --requests ${requests} --connections ${connections}`,
        date: new Date().toISOString(),
        commit,
        database: 'MariaDB (private mariadbd, Debian package)',
        note: 'Rate limits on (Redis counters counted); idle sweeps/flushes subtracted; write-behind batches included (6 s after each scenario).',
        idle: { sqlPerSecond: idleSqlPerSecond, redisPerSecond: idleRedisPerSecond },
        scenarios: results,
      };
      const file = join(REPO_ROOT, 'bench', 'STATEMENTS.json');
      writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
      log(`wrote ${file}`);
    } finally {
      redis.disconnect();
      await instance.close();
    }
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
