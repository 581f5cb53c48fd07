import type autocannon from 'autocannon';
import { sendAmount, type Measurement } from './load.js';
import type { DbKind, ScenarioId } from './options.js';
import type { LargeResult } from './results.js';
import { readMemory, sampleMemory } from './rss.js';
import { scenarioById, type BenchTarget, type Prepared, type RunSettings } from './scenarios.js';

/** Scenarios whose requests mint a stored token each time, in order of preference. */
const MINTERS: readonly ScenarioId[] = ['3', '2', '1'];
const INTROSPECTIONS: readonly ScenarioId[] = ['6a', '6b', '6c'];
/** The fill uses more connections than the measurements: it only has to be fast. */
const FILL_CONNECTIONS = 64;
const FILL_CHUNK = 50_000;

export interface LargeSettings extends RunSettings {
  readonly small: number;
  readonly large: number;
  readonly log: (line: string) => void;
}

/**
 * Introspection latency with `small` vs `large` live tokens in the database, and RSS after
 * `large` tokens. Every token is issued through Keyport's real HTTP endpoints (no direct
 * inserts): the load cycles through the available minting requests (/auth/login with a fresh
 * session, client credentials opaque, client credentials JWT), 64 connections, in chunks.
 */
export async function measureLarge(db: DbKind, target: BenchTarget, pid: number, settings: LargeSettings): Promise<LargeResult> {
  const minters: Array<{ id: ScenarioId; requests: autocannon.Request[] }> = [];
  for (const id of MINTERS) {
    const prepared = await scenarioById(id).prepare(target, FILL_CONNECTIONS);
    if (prepared.ok && prepared.value.load) minters.push({ id, requests: prepared.value.load.requests });
  }
  if (minters.length === 0) return { db, outcome: { kind: 'unavailable', reason: 'no token-minting scenario (1, 2 or 3) is available' } };

  const probes: Array<{ id: ScenarioId; title: string; prepared: Prepared }> = [];
  for (const id of INTROSPECTIONS) {
    const scenario = scenarioById(id);
    const prepared = await scenario.prepare(target, settings.connections);
    if (prepared.ok) probes.push({ id, title: scenario.title, prepared: prepared.value });
  }
  if (probes.length === 0) return { db, outcome: { kind: 'unavailable', reason: 'no introspection scenario (6a, 6b, 6c) is available' } };

  const memory = sampleMemory(pid, 500);
  const requests = minters.flatMap((m) => m.requests);
  const method = `cycling ${minters.map((m) => scenarioById(m.id).title).join(' / ')} at ${FILL_CONNECTIONS} connections`;
  let minted = 0;
  let fillErrors = 0;
  let fillSeconds = 0;
  const fillTo = async (goal: number): Promise<void> => {
    let stalled = 0;
    while (minted < goal) {
      const chunk = Math.min(FILL_CHUNK, goal - minted);
      const result = await sendAmount({ url: target.url, connections: FILL_CONNECTIONS, requests }, chunk);
      minted += result.completed;
      fillErrors += result.errors;
      fillSeconds += result.seconds;
      settings.log(`large (${db}): ${minted.toLocaleString('en-US')} / ${goal.toLocaleString('en-US')} tokens, ${Math.round(result.perSecond)}/s, ${result.errors} errors`);
      stalled = result.completed === 0 ? stalled + 1 : 0;
      if (stalled >= 3) throw new Error(`minting stalled (${JSON.stringify(result.failures)})`);
    }
  };

  try {
    const measureAll = async (): Promise<Measurement[]> => {
      const out: Measurement[] = [];
      for (const probe of probes) out.push(await probe.prepared.measure(settings));
      return out;
    };
    await fillTo(settings.small);
    const small = await measureAll();
    const smallCount = minted;
    await fillTo(settings.large);
    const after = readMemory(pid);
    const large = await measureAll();
    return {
      db,
      outcome: {
        kind: 'measured',
        method,
        minted: { small: smallCount, large: minted },
        fillSeconds,
        fillErrors,
        introspection: probes.map((probe, i) => ({ id: probe.id, title: probe.title, small: small[i]!, large: large[i]! })),
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
