import type autocannon from 'autocannon';
import { sendAmount, type Measurement } from './load.js';
import type { DbKind, ScenarioId } from './options.js';
import type { LargeResult, LargeRound } from './results.js';
import { processCpuMeter } from './cpu.js';
import { readMemory, sampleMemory } from './rss.js';
import { scenarioById, type BenchTarget, type Prepared, type RunSettings } from './scenarios.js';

/** Scenarios whose requests mint a stored token each time, in order of preference. */
const MINTERS: readonly ScenarioId[] = ['3', '2', '1'];
const INTROSPECTIONS: readonly ScenarioId[] = ['6a', '6b', '6c'];
/** The fill uses more connections than the measurements: it only has to be fast. */
const FILL_CONNECTIONS = 64;
const FILL_CHUNK = 50_000;
/**
 * Rounds of the two servers measured back to back. Why more than one: this machine's speed moves
 * by tens of percent within a minute, so one measurement of each size, minutes apart, compared the
 * minutes more than the sizes (2026-12-05: five measurements of one 400,000-token server within
 * six minutes gave a JWT introspection p99 of 6.3 to 12.4 ms).
 */
const LARGE_ROUNDS = 3;

/**
 * After the fills, the servers (and the database server) are given until their CPU falls below
 * this share of a core over a window, at most SETTLE_MAX_MS: tokens accumulate over days in use,
 * not in a burst, and the burst's after-work (write-behind, SQLite's checkpoint, MariaDB's page
 * flushing and purge) is not what the sizes are compared on.
 */
const SETTLED_CPU_SHARE = 0.05;
const SETTLE_WINDOW_MS = 5_000;
const SETTLE_MAX_MS = 60_000;

/** Waits until every process's CPU over a window is below SETTLED_CPU_SHARE of a core (or SETTLE_MAX_MS); says how long it waited. */
async function settle(pids: readonly number[], log: (line: string) => void, what: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    const meters = pids.map((pid) => processCpuMeter(pid));
    for (const meter of meters) meter.start();
    await new Promise((resolve) => setTimeout(resolve, SETTLE_WINDOW_MS));
    // perRequest(1) over the window: µs of CPU in it.
    const shares = meters.map((meter) => (meter.perRequest(1) ?? 0) / 1000 / SETTLE_WINDOW_MS);
    const elapsed = Date.now() - started;
    const settled = shares.every((share) => share < SETTLED_CPU_SHARE);
    if (settled || elapsed >= SETTLE_MAX_MS) {
      log(`${what}: ${settled ? 'settled' : 'still busy'} after ${(elapsed / 1000).toFixed(0)} s (CPU over the last ${SETTLE_WINDOW_MS / 1000} s: ${shares.map((share) => `${(100 * share).toFixed(1)} %`).join(', ')} of a core)`);
      return;
    }
  }
}

/** Which of the two servers: the one filled to `small` tokens or the one filled to `large`. */
type Side = 'small' | 'large';

/** A Keyport server the --large measurement fills and measures. */
export interface LargeServer {
  readonly target: BenchTarget;
  readonly pid: number;
  readonly databasePid?: number;
}

export interface LargeSettings extends RunSettings {
  readonly small: number;
  readonly large: number;
  readonly log: (line: string) => void;
}

/** A server's minting requests and introspection probes, prepared against it. */
interface ServerLoads {
  readonly minters: ReadonlyArray<{ readonly id: ScenarioId; readonly requests: autocannon.Request[] }>;
  readonly probes: ReadonlyArray<{ readonly id: ScenarioId; readonly title: string; readonly prepared: Prepared }>;
}

async function prepareServer(server: LargeServer, connections: number): Promise<ServerLoads> {
  const minters: Array<{ id: ScenarioId; requests: autocannon.Request[] }> = [];
  for (const id of MINTERS) {
    const prepared = await scenarioById(id).prepare(server.target, FILL_CONNECTIONS);
    if (prepared.ok && prepared.value.load) minters.push({ id, requests: prepared.value.load.requests });
  }
  const probes: Array<{ id: ScenarioId; title: string; prepared: Prepared }> = [];
  for (const id of INTROSPECTIONS) {
    const scenario = scenarioById(id);
    const prepared = await scenario.prepare(server.target, connections);
    if (prepared.ok) probes.push({ id, title: scenario.title, prepared: prepared.value });
  }
  return { minters, probes };
}

/**
 * Introspection latency with `small` vs `large` live tokens in the database, and RSS after
 * `large` tokens. Two servers, each with a database of its own, are filled to the two sizes; then
 * each introspection is measured on both back to back, `rounds` times, alternating which goes
 * first, and the p99 ratio is the median of the rounds' ratios (as `bench:ab` compares two
 * checkouts). Every token is issued through Keyport's real HTTP endpoints (no direct inserts): the
 * load cycles through the available minting requests (/auth/login with a fresh session, client
 * credentials opaque, client credentials JWT), 64 connections, in chunks.
 */
export async function measureLarge(db: DbKind, servers: { readonly small: LargeServer; readonly large: LargeServer }, settings: LargeSettings): Promise<LargeResult> {
  const loads = { small: await prepareServer(servers.small, settings.connections), large: await prepareServer(servers.large, settings.connections) };
  const { small, large } = loads;
  if (small.minters.length === 0 || large.minters.length === 0) return { db, outcome: { kind: 'unavailable', reason: 'no token-minting scenario (1, 2 or 3) is available' } };
  const probeIds = large.probes.map((p) => p.id).filter((id) => small.probes.some((p) => p.id === id));
  if (probeIds.length === 0) return { db, outcome: { kind: 'unavailable', reason: 'no introspection scenario (6a, 6b, 6c) is available' } };

  const memory = sampleMemory(servers.large.pid, 500);
  const method = `cycling ${large.minters.map((m) => scenarioById(m.id).title).join(' / ')} at ${FILL_CONNECTIONS} connections`;
  const fill = async (side: Side, goal: number): Promise<{ minted: number; seconds: number; errors: number }> => {
    const requests = loads[side].minters.flatMap((m) => m.requests);
    const filled = { minted: 0, seconds: 0, errors: 0 };
    let stalled = 0;
    while (filled.minted < goal) {
      const chunk = Math.min(FILL_CHUNK, goal - filled.minted);
      const result = await sendAmount({ url: servers[side].target.url, connections: FILL_CONNECTIONS, requests }, chunk);
      filled.minted += result.completed;
      filled.errors += result.errors;
      filled.seconds += result.seconds;
      settings.log(`large (${db}), ${side} server: ${filled.minted.toLocaleString('en-US')} / ${goal.toLocaleString('en-US')} tokens, ${Math.round(result.perSecond)}/s, ${result.errors} errors`);
      stalled = result.completed === 0 ? stalled + 1 : 0;
      if (stalled >= 3) throw new Error(`minting stalled (${JSON.stringify(result.failures)})`);
    }
    return filled;
  };

  try {
    const smallFill = await fill('small', settings.small);
    const largeFill = await fill('large', settings.large);
    const after = readMemory(servers.large.pid);
    const busy = [servers.small.pid, servers.large.pid, ...(servers.large.databasePid === undefined ? [] : [servers.large.databasePid])];
    await settle(busy, settings.log, `large (${db}), after the fills`);
    const measure = async (side: Side, id: ScenarioId): Promise<Measurement> => {
      const probe = loads[side].probes.find((p) => p.id === id)!;
      return probe.prepared.measure({ ...settings, serverPid: servers[side].pid, databasePid: servers[side].databasePid });
    };
    const rounds = new Map<ScenarioId, LargeRound[]>(probeIds.map((id) => [id, []]));
    for (let round = 0; round < LARGE_ROUNDS; round += 1) {
      for (const id of probeIds) {
        // Alternate which size goes first: whatever the machine does during a round, neither size always meets it first.
        const order: readonly Side[] = round % 2 === 0 ? ['small', 'large'] : ['large', 'small'];
        const measured: Partial<Record<Side, Measurement>> = {};
        for (const side of order) measured[side] = await measure(side, id);
        const pair = { small: measured.small!, large: measured.large! };
        rounds.get(id)!.push(pair);
        settings.log(`large (${db}) round ${round + 1} ${id}: ${smallFill.minted.toLocaleString('en-US')} tokens p99 ${pair.small.p99Ms.toFixed(1)} ms, ${largeFill.minted.toLocaleString('en-US')} tokens p99 ${pair.large.p99Ms.toFixed(1)} ms`);
      }
    }
    return {
      db,
      outcome: {
        kind: 'measured',
        method,
        minted: { small: smallFill.minted, large: largeFill.minted },
        fillSeconds: largeFill.seconds,
        fillErrors: smallFill.errors + largeFill.errors,
        introspection: probeIds.map((id) => ({ id, title: scenarioById(id).title, rounds: rounds.get(id)! })),
        rssAfterFill: after?.rss,
        hwmAfterFill: after?.hwm,
        memory: memory.stop(),
      },
    };
  } catch (err) {
    memory.stop();
    return { db, outcome: { kind: 'unavailable', reason: err instanceof Error ? err.message : String(err) } };
  }
}
