/**
 * `npm run capacity -- --rps 50000 --mix login:0.2,introspect:0.7,cc:0.1`: a deployment plan from
 * the latest measurements (docs/scaling.md "Capacity model"):
 * - bench/RESULTS.md (`npm run bench`): CPU µs per request of each scenario, all threads and the
 *   event loop alone, on MariaDB;
 * - bench/STATEMENTS.json (`npm run capacity:measure`): SQL statements and Redis commands per request.
 *
 * Instances are sized by the event loop (one per Node process, single-threaded) at a target
 * utilisation; cores by all threads. Database and Redis are sized by what they must answer, against
 * capacities that are ASSUMPTIONS (--db-qps, --redis-ops), not measured here: say what your servers do.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/paths.js';

/** Names for `--mix`, each a bench scenario (bench/lib/scenarios.ts); raw ids work too. */
export const MIX_NAMES: Readonly<Record<string, string>> = {
  cc: '1', 'cc-jwt': '1', 'cc-opaque': '2',
  login: '3', 'login-new': '3', 'login-same': '4',
  exchange: '5',
  introspect: '6a', 'introspect-jwt': '6a', 'introspect-opaque': '6b', 'introspect-apikey': '6c',
  apikey: '7', 'auth-test': '7',
};

export interface ScenarioCost {
  readonly id: string;
  readonly title: string;
  /** CPU µs per request, all threads. */
  readonly cpuUs: number;
  /** CPU µs per request on the main thread (the event loop). */
  readonly loopUs: number;
  readonly sqlPerRequest: number;
  readonly redisPerRequest: number;
  readonly redisRoundTripsPerRequest: number;
}

export interface Assumptions {
  /** Event-loop utilisation an instance is planned at (headroom for bursts, GC, p99). */
  readonly targetUtilisation: number;
  /** Statements per second the primary answers (indexed single-row statements). ASSUMED. */
  readonly dbQps: number;
  /**
   * Calls (round trips: EVALSHA, EXEC, PUBLISH…) per second one Redis master answers. ASSUMED.
   * A call's cost is mostly its network and parsing; the few commands a script or MULTI runs
   * inside one call add little, so the plan counts calls against this.
   */
  readonly redisOps: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = { targetUtilisation: 0.6, dbQps: 20_000, redisOps: 80_000 };

/** Rows `| 6a introspection … | keyport mysql | req/s | p50 | p99 | errors | 143 (140) | …` of bench/RESULTS.md. */
export function parseBenchCpu(markdown: string, server: string): Map<string, { title: string; cpuUs: number; loopUs: number }> {
  const rows = new Map<string, { title: string; cpuUs: number; loopUs: number }>();
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 9 || cells[2] !== server) continue;
    const id = /^(\w+)\s/.exec(cells[1]!)?.[1];
    const cpu = /^([\d,]+)\s*\(([\d,]+)\)$/.exec(cells[7]!);
    if (!id || !cpu || rows.has(id)) continue;
    rows.set(id, { title: cells[1]!.replace(/^\w+\s/, ''), cpuUs: Number(cpu[1]!.replace(/,/g, '')), loopUs: Number(cpu[2]!.replace(/,/g, '')) });
  }
  return rows;
}

export function parseMix(raw: string): Map<string, number> {
  const mix = new Map<string, number>();
  for (const part of raw.split(',').map((item) => item.trim()).filter(Boolean)) {
    const [name, share] = part.split(':');
    const id = MIX_NAMES[name!] ?? name!;
    const value = Number(share);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--mix: "${part}" needs a positive share, e.g. login:0.2`);
    mix.set(id, (mix.get(id) ?? 0) + value);
  }
  const total = [...mix.values()].reduce((sum, value) => sum + value, 0);
  if (mix.size === 0) throw new Error('--mix is empty');
  for (const [id, value] of mix) mix.set(id, value / total);
  return mix;
}

export interface Plan {
  readonly rps: number;
  readonly perRequest: { cpuUs: number; loopUs: number; sql: number; redis: number; redisRoundTrips: number };
  readonly instances: number;
  readonly instancesPer10k: number;
  readonly cores: number;
  readonly dbQps: number;
  readonly redisOps: number;
  readonly redisMasters: number;
  /** Request rate at which each shared tier reaches its assumed capacity with this mix. */
  readonly saturatesAt: { database: number; redisMaster: number };
}

export function plan(rps: number, mix: ReadonlyMap<string, number>, costs: ReadonlyMap<string, ScenarioCost>, assumptions: Assumptions = DEFAULT_ASSUMPTIONS): Plan {
  const weighted = (pick: (cost: ScenarioCost) => number): number => {
    let total = 0;
    for (const [id, share] of mix) {
      const cost = costs.get(id);
      if (!cost) throw new Error(`no measurement for scenario ${id} (have: ${[...costs.keys()].join(', ')})`);
      total += share * pick(cost);
    }
    return total;
  };
  const perRequest = {
    cpuUs: weighted((cost) => cost.cpuUs),
    loopUs: weighted((cost) => cost.loopUs),
    sql: weighted((cost) => cost.sqlPerRequest),
    redis: weighted((cost) => cost.redisPerRequest),
    redisRoundTrips: weighted((cost) => cost.redisRoundTripsPerRequest),
  };
  const loopBusy = (rps * perRequest.loopUs) / 1e6;
  const instances = Math.max(1, Math.ceil(loopBusy / assumptions.targetUtilisation));
  const redisOps = rps * perRequest.redis;
  const redisCalls = rps * perRequest.redisRoundTrips;
  return {
    rps,
    perRequest,
    instances,
    instancesPer10k: (10_000 * perRequest.loopUs) / 1e6 / assumptions.targetUtilisation,
    cores: Math.ceil((rps * perRequest.cpuUs) / 1e6 / assumptions.targetUtilisation),
    dbQps: rps * perRequest.sql,
    redisOps,
    redisMasters: Math.max(1, Math.ceil(redisCalls / (assumptions.redisOps * assumptions.targetUtilisation))),
    saturatesAt: {
      database: perRequest.sql > 0 ? assumptions.dbQps / perRequest.sql : Number.POSITIVE_INFINITY,
      redisMaster: perRequest.redisRoundTrips > 0 ? assumptions.redisOps / perRequest.redisRoundTrips : Number.POSITIVE_INFINITY,
    },
  };
}

export function loadCosts(server = 'keyport mysql'): Map<string, ScenarioCost> {
  const cpu = parseBenchCpu(readFileSync(join(REPO_ROOT, 'bench', 'RESULTS.md'), 'utf8'), server);
  const statements = JSON.parse(readFileSync(join(REPO_ROOT, 'bench', 'STATEMENTS.json'), 'utf8')) as { scenarios: Record<string, { sqlPerRequest: number; redisPerRequest: number; redisRoundTripsPerRequest?: number }> };
  const costs = new Map<string, ScenarioCost>();
  for (const [id, measured] of cpu) {
    const counted = statements.scenarios[id];
    if (!counted) continue;
    costs.set(id, { id, title: measured.title, cpuUs: measured.cpuUs, loopUs: measured.loopUs, sqlPerRequest: counted.sqlPerRequest, redisPerRequest: counted.redisPerRequest, redisRoundTripsPerRequest: counted.redisRoundTripsPerRequest ?? counted.redisPerRequest });
  }
  return costs;
}

const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '∞');

export function describePlan(result: Plan, mix: ReadonlyMap<string, number>, costs: ReadonlyMap<string, ScenarioCost>, assumptions: Assumptions): string {
  const lines: string[] = [];
  lines.push(`Plan for ${fmt(result.rps)} req/s, mix ${[...mix].map(([id, share]) => `${id} ${(share * 100).toFixed(0)} %`).join(', ')}`);
  lines.push('');
  lines.push('per scenario (measured): CPU µs/req total (loop) · SQL statements/req · Redis commands/req (round trips)');
  for (const id of mix.keys()) {
    const cost = costs.get(id)!;
    lines.push(`  ${id.padEnd(3)} ${cost.title.slice(0, 60).padEnd(60)} ${fmt(cost.cpuUs).padStart(5)} (${fmt(cost.loopUs)}) · ${fmt(cost.sqlPerRequest, 3)} · ${fmt(cost.redisPerRequest, 1)} (${fmt(cost.redisRoundTripsPerRequest, 1)})`);
  }
  lines.push(`  mix  ${' '.repeat(60)}${fmt(result.perRequest.cpuUs).padStart(5)} (${fmt(result.perRequest.loopUs)}) · ${fmt(result.perRequest.sql, 3)} · ${fmt(result.perRequest.redis, 1)} (${fmt(result.perRequest.redisRoundTrips, 1)})`);
  lines.push('');
  lines.push(`Keyport instances: ${result.instances} (${fmt(result.instancesPer10k, 1)} per 10k req/s; event loop planned at ${assumptions.targetUtilisation * 100} %), ${result.cores} cores in all (every thread)`);
  lines.push(`Database: ${fmt(result.dbQps)} statements/s on the primary; it saturates at ~${fmt(result.saturatesAt.database)} req/s of this mix if it answers ${fmt(assumptions.dbQps)} statements/s (--db-qps, assumed)`);
  lines.push(`Redis: ${fmt(result.rps * result.perRequest.redisRoundTrips)} calls/s (${fmt(result.redisOps)} commands counting those inside scripts and MULTI); one master saturates at ~${fmt(result.saturatesAt.redisMaster)} req/s if it answers ${fmt(assumptions.redisOps)} calls/s (--redis-ops, assumed): ${result.redisMasters} master(s) (Redis Cluster beyond one) at ${assumptions.targetUtilisation * 100} %`);
  const first = result.saturatesAt.database <= result.saturatesAt.redisMaster ? 'the database primary' : 'Redis (one master: move to Redis Cluster)';
  lines.push(`Scale first: Keyport instances (stateless, linear until a shared tier saturates); of the shared tiers, ${first} saturates first with this mix.`);
  return lines.join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  const value = (name: string): string | undefined => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const rps = Number(value('--rps') ?? '10000');
  const mix = parseMix(value('--mix') ?? 'login:0.2,introspect:0.7,cc:0.1');
  const assumptions: Assumptions = {
    targetUtilisation: Number(value('--utilisation') ?? DEFAULT_ASSUMPTIONS.targetUtilisation),
    dbQps: Number(value('--db-qps') ?? DEFAULT_ASSUMPTIONS.dbQps),
    redisOps: Number(value('--redis-ops') ?? DEFAULT_ASSUMPTIONS.redisOps),
  };
  if (!(rps > 0) || !(assumptions.targetUtilisation > 0 && assumptions.targetUtilisation <= 1)) throw new Error('--rps must be positive and --utilisation in (0, 1]');
  const costs = loadCosts(value('--server') ?? 'keyport mysql');
  console.log(describePlan(plan(rps, mix, costs, assumptions), mix, costs, assumptions));
}

if (process.argv[1]?.endsWith('capacity.js')) {
  try {
    main();
  } catch (err) {
    console.error(`capacity: ${(err as Error).message}`);
    process.exit(2);
  }
}
