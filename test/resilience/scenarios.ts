import { openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { percentile } from '../../bench/lib/load.js';
import { runLoad, type LoadRun, type Sample } from './load.js';
import type { DbKind, FaultStack } from './stack.js';

/** What one scenario showed, as `npm run chaos` prints it and the tests assert it. */
export interface ScenarioResult {
  readonly id: string;
  readonly fault: string;
  readonly load: string;
  /** Answers by status, plus connection errors and timeouts. */
  readonly answers: Record<string, number>;
  readonly p99Ms: number;
  readonly worstMs: number;
  /**
   * From the end of the fault to the start of the last request that still failed (0: none did);
   * for Redis faults, until Redis was in use again (the circuit closed).
   */
  readonly recoveryMs: number;
  readonly rowsChecked: number;
  /** Broken promises (the tests fail on any); empty when the scenario held. */
  readonly violations: string[];
  /** What else was seen: readiness during the fault, log lines, the drain report. */
  readonly notes: string[];
}

export interface Scenario {
  readonly id: string;
  readonly fault: string;
  readonly databases: readonly DbKind[];
  /** Whether the machine allows it (e.g. a tmpfs for the disk-full scenarios). */
  readonly possible?: (stack: FaultStack) => string | undefined;
  /** Requests may fail (503) while the fault lasts; Redis faults must not fail any. */
  readonly failsRequests: boolean;
  /** What /readyz must say at some point during the fault (`any`: no promise either way). */
  readonly readinessDuringFault: 'not_ready' | 'degraded' | 'any';
  /** How long the fault lasts, when not the timing's (the database ones outlast the query timeout). */
  readonly faultMs?: number;
  /**
   * The load opens a new session in one login of this many: for a fault that refuses only writes,
   * or one that only requests reaching the database meet.
   */
  readonly newSessionEvery?: number;
  start(stack: FaultStack): Promise<void> | void;
  stop(stack: FaultStack): Promise<void> | void;
}

export interface Timing {
  /** Load before the fault, the fault, and load after it (ms). */
  readonly beforeMs: number;
  readonly faultMs: number;
  readonly afterMs: number;
  readonly connections: number;
  /** Login session IDs per scenario (each asked for several times). */
  readonly sessions: number;
}

/** `npm run chaos`: the numbers for bench/RESILIENCE.md. */
export const DEFAULT_TIMING: Timing = { beforeMs: 1500, faultMs: 4000, afterMs: 3000, connections: 8, sessions: 300 };
/** The test suite: shorter, the same faults and promises. */
export const TEST_TIMING: Timing = { beforeMs: 1000, faultMs: 3000, afterMs: 2000, connections: 8, sessions: 150 };
/** A database fault must outlast DB_QUERY_TIMEOUT_MS (3 s) to show what its timeouts do. */
const DATABASE_FAULT_MS = 4000;

/**
 * Fills the tmpfs the SQLite data lives on, so every write that needs space fails (SQLITE_FULL).
 * The write-ahead log is emptied first: SQLite reuses a WAL file's length after each checkpoint,
 * so with a WAL already grown by the load the writes of the fault's few seconds could fit in it
 * and the fault would not take (seen on Node 24, where the load runs faster).
 */
async function fillDisk(stack: FaultStack): Promise<void> {
  await truncateWriteAheadLog(join(stack.dataDir, 'keyport.db'));
  const fd = openSync(join(stack.dataDir, 'filler'), 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

/** The driver Keyport's SQLite runs on (it ships no types; the two calls used here are typed by hand). */
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => { pragma(statement: string): unknown; close(): void };

/** `PRAGMA wal_checkpoint(TRUNCATE)` from a connection of our own, retried while Keyport's writers keep it busy. */
async function truncateWriteAheadLog(file: string): Promise<void> {
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 1000');
    for (let attempt = 0; attempt < 50; attempt++) {
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
      if (result?.busy === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`could not empty the write-ahead log of ${file}: Keyport's writers kept it busy`);
  } finally {
    db.close();
  }
}

const needsTmpfs = (stack: FaultStack): string | undefined => (stack.onTmpfs ? undefined : 'no tmpfs could be mounted here (needs root)');

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'db-freeze',
    faultMs: DATABASE_FAULT_MS,
    fault: 'MariaDB frozen (connections open, no answers)',
    databases: ['mysql'],
    failsRequests: true,
    readinessDuringFault: 'not_ready',
    // Repeat logins and tokens mostly need no statement, so without new sessions whether any request
    // met the freeze was up to a cache refresh falling into it (CI once saw none: "did not take").
    newSessionEvery: 20,
    start: (stack) => stack.dbProxy!.freeze(),
    stop: (stack) => stack.dbProxy!.pass(),
  },
  {
    id: 'db-reset',
    faultMs: DATABASE_FAULT_MS,
    fault: 'MariaDB connections reset mid-query every 200 ms',
    databases: ['mysql'],
    failsRequests: true,
    // Connections come back at once; readiness may well catch the server between two resets.
    readinessDuringFault: 'any',
    start: (stack) => stack.dbProxy!.resetEvery(200),
    stop: (stack) => stack.dbProxy!.pass(),
  },
  {
    id: 'db-down',
    faultMs: DATABASE_FAULT_MS,
    fault: 'MariaDB gone (connections reset, new ones refused)',
    databases: ['mysql'],
    failsRequests: true,
    readinessDuringFault: 'not_ready',
    start: (stack) => stack.dbProxy!.refuse(),
    stop: (stack) => stack.dbProxy!.pass(),
  },
  {
    id: 'disk-full',
    faultMs: DATABASE_FAULT_MS,
    fault: 'SQLite disk full (tmpfs filled)',
    databases: ['sqlite'],
    possible: needsTmpfs,
    failsRequests: true,
    readinessDuringFault: 'not_ready',
    newSessionEvery: 4,
    start: fillDisk,
    stop: (stack) => rmSync(join(stack.dataDir, 'filler'), { force: true }),
  },
  {
    id: 'redis-freeze',
    fault: 'Redis frozen (connections open, no answers)',
    databases: ['sqlite', 'mysql'],
    failsRequests: false,
    readinessDuringFault: 'degraded',
    start: (stack) => stack.redisProxy.freeze(),
    stop: (stack) => stack.redisProxy.pass(),
  },
  {
    id: 'redis-refuse',
    fault: 'Redis refusing connections',
    databases: ['sqlite', 'mysql'],
    failsRequests: false,
    readinessDuringFault: 'degraded',
    start: (stack) => stack.redisProxy.refuse(),
    stop: (stack) => stack.redisProxy.pass(),
  },
];

/** Polls /readyz every 100 ms on its own connection: what readiness said, and when. */
function watchReadiness(url: string, clock: () => number): { stop(): Promise<Array<{ at: number; status: number; body: Record<string, unknown> | undefined }>> } {
  const seen: Array<{ at: number; status: number; body: Record<string, unknown> | undefined }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = clock();
      try {
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) });
        const text = await res.text();
        let body: Record<string, unknown> | undefined;
        try { body = JSON.parse(text) as Record<string, unknown>; } catch { body = undefined; }
        seen.push({ at, status: res.status, body });
      } catch {
        seen.push({ at, status: 0, body: undefined });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return { stop: async () => { running = false; await loop; return seen; } };
}

function jtiOf(token: string): string | undefined {
  try {
    return (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: string }).jti;
  } catch {
    return undefined;
  }
}

export function countAnswers(run: LoadRun): Record<string, number> {
  const answers: Record<string, number> = {};
  for (const sample of run.samples) answers[String(sample.status)] = (answers[String(sample.status)] ?? 0) + 1;
  for (const [code, count] of Object.entries(run.errors)) answers[code] = (answers[code] ?? 0) + count;
  return answers;
}

/** The checks every scenario shares: bounded waits, only 200/503, each answer in its contract's shape. */
export function latencyAndStatusViolations(run: LoadRun, budgetMs: number): string[] {
  const violations: string[] = [];
  const worst = run.samples.reduce((max, sample) => Math.max(max, sample.end - sample.start), 0);
  if (worst > budgetMs + 1000) violations.push(`a request waited ${Math.round(worst)} ms (budget ${budgetMs} ms + 1 s)`);
  if (run.timeouts > 0) violations.push(`${run.timeouts} requests got no answer at all`);
  const problems = new Map<string, number>();
  for (const sample of run.samples) if (sample.problem) problems.set(`${sample.kind}: ${sample.problem}`, (problems.get(`${sample.kind}: ${sample.problem}`) ?? 0) + 1);
  for (const [problem, count] of problems) violations.push(`${count} × ${problem}`);
  return violations;
}

/**
 * After the load: every session of the pool once more, then the rows. Each session must answer
 * 200 with the one token it ever had (exactly one token per (key, session_id)), and its row must
 * hold that token, unclaimed (nothing lost, duplicated or half-made).
 */
async function checkSessions(stack: FaultStack, samples: readonly Sample[], prefix: string, sessions: number): Promise<{ rows: number; violations: string[] }> {
  const violations: string[] = [];
  const tokens = new Map<string, Set<string>>();
  for (const sample of samples) {
    if (sample.kind !== 'login' || sample.status !== 200 || !sample.sessionId || !sample.token) continue;
    let seen = tokens.get(sample.sessionId);
    if (!seen) {
      seen = new Set();
      tokens.set(sample.sessionId, seen);
    }
    seen.add(sample.token);
  }
  const settled = new Map<string, string>();
  const ids = Array.from({ length: sessions }, (_, i) => `${prefix}-${i}`);
  for (let start = 0; start < ids.length; start += 8) {
    await Promise.all(ids.slice(start, start + 8).map(async (sessionId) => {
      const res = await fetch(`${stack.url}/auth/login`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ session_id: sessionId }),
        signal: AbortSignal.timeout(stack.budgetMs + 2000),
      });
      const body = (await res.json()) as { access_token?: string };
      if (res.status !== 200 || !body.access_token) {
        violations.push(`after recovery, session ${sessionId} answered ${res.status}`);
        return;
      }
      settled.set(sessionId, body.access_token);
      tokens.get(sessionId)?.add(body.access_token) ?? tokens.set(sessionId, new Set([body.access_token]));
    }));
  }
  const twice = [...tokens].filter(([, seen]) => seen.size > 1);
  if (twice.length > 0) violations.push(`${twice.length} sessions got more than one token (e.g. ${twice[0]![0]}: ${twice[0]![1].size})`);

  const rows = (await stack.sessionRows()).filter((row) => row.sessionId.startsWith(`${prefix}-`));
  const byId = new Map<string, typeof rows>();
  for (const row of rows) byId.set(row.sessionId, [...(byId.get(row.sessionId) ?? []), row]);
  let missing = 0;
  let duplicated = 0;
  let halfMade = 0;
  let wrongToken = 0;
  for (const sessionId of ids) {
    const found = byId.get(sessionId) ?? [];
    if (found.length === 0) missing += 1;
    if (found.length > 1) duplicated += 1;
    const row = found[0];
    if (!row) continue;
    if (!row.tokenJti || row.claimedBy) halfMade += 1;
    const token = settled.get(sessionId);
    if (token && row.tokenJti !== jtiOf(token)) wrongToken += 1;
  }
  if (missing) violations.push(`${missing} sessions have no row`);
  if (duplicated) violations.push(`${duplicated} sessions have more than one row`);
  if (halfMade) violations.push(`${halfMade} session rows without a token or still claimed`);
  if (wrongToken) violations.push(`${wrongToken} session rows hold another token than the one handed out`);
  return { rows: rows.length, violations };
}

/**
 * Flood control: while a fault fails hundreds of requests, the log gets one line per kind of error
 * (and a count later), and known outage errors carry no stack.
 */
function logViolations(stack: FaultStack, since: number, failedRequests: number): { violations: string[]; note: string } {
  const lines = stack.logs().filter((line) => (line.level === 'error' || line.level === 'warn') && Date.parse(String(line.timestamp)) >= since);
  const violations: string[] = [];
  const withStack = lines.filter((line) => line.stack !== undefined);
  if (withStack.length) violations.push(`${withStack.length} warnings or errors logged with a stack (e.g. ${String(withStack[0]!.message)})`);
  const kinds = new Map<string, number>();
  for (const line of lines) kinds.set(String(line.message), (kinds.get(String(line.message)) ?? 0) + 1);
  const flooded = [...kinds].filter(([, count]) => count > 10);
  if (flooded.length) violations.push(`log flood: ${flooded.map(([message, count]) => `"${message}" × ${count}`).join(', ')}`);
  return { violations, note: `${lines.length} warning/error lines logged for ${failedRequests} failed requests (${[...kinds].map(([message, count]) => `${message} × ${count}`).join('; ') || 'none'})` };
}

/** Runs one fault under load on a running stack and judges it. */
export async function runScenario(stack: FaultStack, scenario: Scenario, timing: Timing = DEFAULT_TIMING): Promise<ScenarioResult> {
  const prefix = `${scenario.id}-${Date.now().toString(36)}`;
  const faultMs = scenario.faultMs ?? timing.faultMs;
  const wallStart = Date.now();
  const started = performance.now();
  const clock = (): number => performance.now() - started;
  const readiness = watchReadiness(stack.url, clock);
  let run: LoadRun;
  try {
    run = await runLoad(stack, {
      connections: timing.connections,
      durationMs: timing.beforeMs + faultMs + timing.afterMs,
      sessions: timing.sessions,
      newSessionEvery: scenario.newSessionEvery,
      sessionPrefix: prefix,
      timeline: [
        { at: timing.beforeMs, run: () => scenario.start(stack) },
        { at: timing.beforeMs + faultMs, run: () => scenario.stop(stack) },
      ],
    });
  } finally {
    await scenario.stop(stack);
  }
  const seenReadiness = await readiness.stop();
  // The load's clock started a moment after this one; readiness times are shifted onto it.
  const shift = clock() - run.durationMs;
  const [faultStart = timing.beforeMs, faultEnd = timing.beforeMs + faultMs] = run.marks;

  const violations = latencyAndStatusViolations(run, stack.budgetMs);
  const notes: string[] = [];
  const failing = run.samples.filter((sample) => sample.status !== 200);
  // A request in flight when the fault began may fail by it; one answered before it may not.
  const early = failing.filter((sample) => sample.end < faultStart);
  if (early.length) {
    const which = early.slice(0, 5).map((sample) => `${sample.kind} ${sample.status} at ${Math.round(sample.start)}–${Math.round(sample.end)} ms${sample.problem ? ` (${sample.problem})` : ''}`);
    violations.push(`${early.length} requests failed before the fault began (fault at ${Math.round(faultStart)} ms): ${which.join('; ')}`);
  }
  const connectionErrors = Object.entries(run.errors).filter(([code]) => code !== 'request timed out');
  if (connectionErrors.length) violations.push(`connection errors: ${connectionErrors.map(([code, n]) => `${code} × ${n}`).join(', ')}`);

  let recoveryMs = Math.max(0, ...failing.map((sample) => sample.start - faultEnd));
  if (scenario.failsRequests) {
    if (!failing.some((sample) => sample.end >= faultStart && sample.start < faultEnd)) violations.push('no request failed during the fault: the fault did not take');
  } else if (failing.length) {
    violations.push(`${failing.length} requests failed; a Redis fault must not fail any`);
  }

  const during = seenReadiness.filter((entry) => entry.at - shift >= faultStart && entry.at - shift < faultEnd);
  const after = seenReadiness.filter((entry) => entry.at - shift >= faultEnd);
  if (scenario.readinessDuringFault === 'not_ready') {
    const first = during.find((entry) => entry.status === 503);
    if (!first) violations.push('/readyz never reported 503 during the fault');
    else notes.push(`/readyz 503 ${Math.round(first.at - shift - faultStart)} ms into the fault (${JSON.stringify((first.body as { checks?: unknown } | undefined)?.checks)})`);
  } else if (scenario.readinessDuringFault === 'degraded') {
    const first = during.find((entry) => entry.status === 200 && entry.body?.status === 'degraded');
    if (!first) violations.push('/readyz never reported degraded during the fault');
    else notes.push(`/readyz 200 degraded ${Math.round(first.at - shift - faultStart)} ms into the fault`);
    if (during.some((entry) => entry.status !== 200)) violations.push('/readyz was not 200 during a Redis fault');
    const back = after.find((entry) => entry.status === 200 && entry.body?.status === 'ready');
    if (!back) violations.push('/readyz did not report ready (Redis in use) after the fault');
    else recoveryMs = Math.max(recoveryMs, back.at - shift - faultEnd);
  }
  if (scenario.readinessDuringFault !== 'degraded') {
    const back = after.find((entry) => entry.status === 200);
    if (!back) violations.push('/readyz did not report ready after the fault');
    else notes.push(`/readyz 200 again ${Math.round(back.at - shift - faultEnd)} ms after the fault`);
  }
  if (recoveryMs > 1000) {
    const late = failing.filter((sample) => sample.start - faultEnd > 1000).slice(-5);
    const which = late.map((sample) => `${sample.kind} ${sample.status} at +${Math.round(sample.start - faultEnd)} ms${sample.problem ? ` (${sample.problem})` : ''}`);
    violations.push(`recovery took ${Math.round(recoveryMs)} ms (at most 1000): ${which.join('; ')}`);
  }

  const sessions = await checkSessions(stack, run.samples, prefix, timing.sessions);
  violations.push(...sessions.violations);
  const logged = logViolations(stack, wallStart, failing.length);
  violations.push(...logged.violations);
  notes.push(logged.note);

  const latencies = run.samples.map((sample) => sample.end - sample.start).sort((a, b) => a - b);
  return {
    id: scenario.id,
    fault: `${scenario.fault}, ${faultMs / 1000} s`,
    load: `${timing.connections} conn, ${(run.durationMs / 1000).toFixed(1)} s`,
    answers: countAnswers(run),
    p99Ms: percentile(latencies, 99),
    worstMs: latencies[latencies.length - 1] ?? 0,
    recoveryMs,
    rowsChecked: sessions.rows,
    violations,
    notes,
  };
}
