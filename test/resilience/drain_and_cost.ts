import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { percentile } from '../../bench/lib/load.js';
import { until } from '../support/until.js';
import { runLoad } from './load.js';
import { countAnswers, latencyAndStatusViolations, type ScenarioResult } from './scenarios.js';
import type { FaultStack } from './stack.js';

async function readiness(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Latencies (ms, unrounded) of `amount` requests, one after another on one keep-alive connection. */
function sequentialLatencies(url: string, apiKey: string, amount: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon({ url: `${url}/auth/test`, connections: 1, pipelining: 1, amount, timeout: 10, headers: { 'x-api-key': apiKey } }, (err) => (err ? reject(err) : resolve(latencies)));
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status === 200) latencies.push(ms);
    });
  });
}

export interface BreakerCost {
  readonly requests: number;
  /** Median latency of GET /auth/test (rate limited through Redis) with Redis answering. */
  readonly normalMs: number;
  /** The same with Redis frozen and the circuit open. */
  readonly openMs: number;
  readonly openP99Ms: number;
  readonly normalP99Ms: number;
}

/**
 * What a frozen Redis costs each request once the circuit is open, against Redis answering:
 * GET /auth/test (a key verification and three rate-limit counters) one at a time, medians of
 * `amount` requests each, in the same process, one after the other.
 */
export async function measureBreakerCost(stack: FaultStack, amount = 400): Promise<BreakerCost> {
  await sequentialLatencies(stack.url, stack.apiKey, 100);
  const normal = (await sequentialLatencies(stack.url, stack.apiKey, amount)).sort((a, b) => a - b);
  stack.redisProxy.freeze();
  try {
    // The first requests pay the command timeout until the circuit opens.
    await until('the Redis circuit to open', async () => {
      await fetch(`${stack.url}/auth/test`, { headers: { 'x-api-key': stack.apiKey }, signal: AbortSignal.timeout(5000) });
      return (await readiness(stack.url)).body.status === 'degraded';
    }, 15_000);
    await sequentialLatencies(stack.url, stack.apiKey, 100);
    const open = (await sequentialLatencies(stack.url, stack.apiKey, amount)).sort((a, b) => a - b);
    if ((await readiness(stack.url)).body.status !== 'degraded') throw new Error('the circuit closed while Redis was frozen');
    return { requests: amount, normalMs: percentile(normal, 50), openMs: percentile(open, 50), normalP99Ms: percentile(normal, 99), openP99Ms: percentile(open, 99) };
  } finally {
    await stack.redisProxy.pass();
    await until('Redis to be used again', async () => (await readiness(stack.url)).body.status === 'ready', 10_000);
  }
}

/**
 * SIGTERM under keep-alive load: the process must exit 0 within SHUTDOWN_GRACE_MS, answer every
 * request it had read (none cut), and leave every session it answered stored with the token it
 * handed out. Connections refused after the listener closed are expected. Ends the stack's Keyport.
 */
export async function runDrainScenario(stack: FaultStack): Promise<ScenarioResult> {
  const violations: string[] = [];
  const notes: string[] = [];
  const graceMs = Number(stack.env.SHUTDOWN_GRACE_MS ?? 10_000);
  const prefix = `drain-${Date.now().toString(36)}`;
  let signalledAt = 0;
  let exitMs = Number.NaN;
  const exited = stack.keyport.exited.then((status) => { exitMs = performance.now() - signalledAt; return status; });
  const run = await runLoad(stack, {
    connections: 8,
    durationMs: 3500,
    sessions: 200,
    sessionPrefix: prefix,
    timeline: [{
      at: 1500,
      run: () => {
        signalledAt = performance.now();
        process.kill(stack.keyport.pid, 'SIGTERM');
      },
    }],
  });
  const status = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), graceMs + 2000))]);
  if (status !== '0') violations.push(`the process ended with ${status}, not exit code 0`);
  if (!(exitMs <= graceMs)) violations.push(`the process took ${Math.round(exitMs)} ms to exit (SHUTDOWN_GRACE_MS ${graceMs})`);
  const shutdown = stack.logs().find((line) => line.message === 'shut down');
  if (!shutdown) violations.push('no "shut down" report in the log');
  else {
    if (shutdown.requests_cut !== 0) violations.push(`${String(shutdown.requests_cut)} requests that had been read were cut`);
    notes.push(`exit ${Math.round(exitMs)} ms after SIGTERM; ${String(shutdown.in_flight_at_signal)} requests in flight at the signal, ${String(shutdown.requests_cut)} cut; drain ${String(shutdown.drain_ms)} ms, pools and buffers closed after ${String(shutdown.total_ms)} ms`);
  }
  violations.push(...latencyAndStatusViolations(run, stack.budgetMs));
  const failing = run.samples.filter((sample) => sample.status !== 200);
  if (failing.length) violations.push(`${failing.length} requests answered ${[...new Set(failing.map((s) => s.status))].join('/')} while draining`);
  const resets = Object.entries(run.errors).filter(([code]) => code !== 'ECONNREFUSED');
  notes.push(`client side: ${Object.entries(run.errors).map(([code, n]) => `${code} × ${n}`).join(', ') || 'no connection errors'} (refused: new connections after the listener closed${resets.length ? '; resets: requests written after the server\'s last answer with Connection: close, never read' : ''})`);

  // Nothing lost or half-made: each session answered has its row with the token handed out.
  const answered = new Map<string, string>();
  for (const sample of run.samples) if (sample.kind === 'login' && sample.status === 200 && sample.sessionId && sample.token) answered.set(sample.sessionId, sample.token);
  const rows = (await stack.sessionRows()).filter((row) => row.sessionId.startsWith(`${prefix}-`));
  const jti = (token: string): string | undefined => (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: string }).jti;
  const bySession = new Map(rows.map((row) => [row.sessionId, row]));
  if (bySession.size !== rows.length) violations.push('a session has more than one row');
  const lost = [...answered].filter(([sessionId, token]) => bySession.get(sessionId)?.tokenJti !== jti(token));
  if (lost.length) violations.push(`${lost.length} sessions answered 200 are not stored with that token`);
  const halfMade = rows.filter((row) => !row.tokenJti || row.claimedBy);
  if (halfMade.length) violations.push(`${halfMade.length} session rows without a token or still claimed`);

  const latencies = run.samples.map((sample) => sample.end - sample.start).sort((a, b) => a - b);
  return {
    id: 'drain',
    fault: 'SIGTERM under keep-alive load',
    load: `8 conn, ${(run.durationMs / 1000).toFixed(1)} s`,
    answers: countAnswers(run),
    p99Ms: percentile(latencies, 99),
    worstMs: latencies[latencies.length - 1] ?? 0,
    recoveryMs: Number.isNaN(exitMs) ? Number.POSITIVE_INFINITY : exitMs,
    rowsChecked: rows.length,
    violations,
    notes,
  };
}
