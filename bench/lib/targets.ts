import { summarizeLarge, type LargeResult, type Row } from './results.js';
import { toMb } from './rss.js';

/**
 * The targets (2-core machine, load generator on the same host, rate limits lifted), on both
 * databases: those of the second performance step (docs/performance.md).
 */
export const TARGETS = {
  clientCredentialsRatio: 0.9,
  loginNewSession: 2_000,
  loginSameSession: 5_000,
  /** Per introspection scenario: JWTs (6a) and API-key JWTs (6c) 8,000/s, opaque tokens (6b) 6,000/s. */
  introspection: { '6a': 8_000, '6b': 6_000, '6c': 8_000 } as Readonly<Record<'6a' | '6b' | '6c', number>>,
  introspectionP99Ms: 20,
  introspectionConnections: 32,
  largeP99Ratio: 1.3,
  peakRssMb: 300,
  /** Above this share of failed requests a row is not a measurement of the intended path. */
  maxErrorShare: 0.01,
} as const;

export const TARGET_STATEMENTS = [
  `client credentials ≥ ${TARGETS.clientCredentialsRatio} × the bare engine in the same run (scenario 1)`,
  `\`/auth/login\` new session ≥ ${TARGETS.loginNewSession.toLocaleString('en-US')}/s (3), same session ≥ ${TARGETS.loginSameSession.toLocaleString('en-US')}/s (4)`,
  `introspection ≥ ${TARGETS.introspection['6a'].toLocaleString('en-US')}/s for JWTs (6a) and API-key JWTs (6c), ≥ ${TARGETS.introspection['6b'].toLocaleString('en-US')}/s for opaque tokens (6b), p99 ≤ ${TARGETS.introspectionP99Ms} ms, at ${TARGETS.introspectionConnections} connections`,
  `introspection p99 with 1,000,000 live tokens within ${TARGETS.largeP99Ratio} × of 10,000 (--large)`,
  `peak RSS ≤ ${TARGETS.peakRssMb} MB throughout (every Keyport row, and after 1,000,000 tokens)`,
  'stated for a 2-core machine with the load generator on the same host, on both databases (`--db both`), with rate limits lifted',
];

export interface Verdict {
  /** The scenario's own target, as shown in the table ("≥ 2,000/s"); "—" when it has none. */
  readonly target: string;
  /** "pass", "ok" (no target of its own, nothing wrong), "miss: …", or "—" (not measured / reference). */
  readonly verdict: string;
}

/** Checks a row against its target, the RSS ceiling and the error share. */
export function judge(row: Row, ratio: number | undefined, connections: number): Verdict {
  if (row.server === 'bare') return { target: 'reference', verdict: '—' };
  const misses: string[] = [];
  let target = '—';
  const outcome = row.outcome;
  const m = outcome.kind === 'measured' ? outcome.measurement : undefined;
  switch (row.id) {
    case '1':
      target = `≥ ${TARGETS.clientCredentialsRatio} × bare`;
      if (m && (ratio === undefined || ratio < TARGETS.clientCredentialsRatio)) misses.push(ratio === undefined ? 'no baseline' : 'ratio');
      break;
    case '3':
      target = `≥ ${TARGETS.loginNewSession.toLocaleString('en-US')}/s`;
      if (m && m.perSecond < TARGETS.loginNewSession) misses.push('req/s');
      break;
    case '4':
      target = `≥ ${TARGETS.loginSameSession.toLocaleString('en-US')}/s`;
      if (m && m.perSecond < TARGETS.loginSameSession) misses.push('req/s');
      break;
    case '6a': case '6b': case '6c':
      target = `≥ ${TARGETS.introspection[row.id].toLocaleString('en-US')}/s, p99 ≤ ${TARGETS.introspectionP99Ms} ms`;
      if (connections !== TARGETS.introspectionConnections) break;
      if (m && m.perSecond < TARGETS.introspection[row.id]) misses.push('req/s');
      if (m && m.p99Ms > TARGETS.introspectionP99Ms) misses.push('p99');
      break;
    default:
      break;
  }
  if (outcome.kind !== 'measured' || !m) return { target, verdict: '—' };
  const rss = toMb(outcome.memory.peakRss);
  if (rss !== undefined && rss > TARGETS.peakRssMb) misses.push('RSS');
  const attempts = m.completed + m.errors;
  if (attempts > 0 && m.errors / attempts > TARGETS.maxErrorShare) misses.push('errors');
  if (misses.length) return { target, verdict: `miss: ${misses.join(', ')}` };
  const wrongConnections = ['6a', '6b', '6c'].includes(row.id) && connections !== TARGETS.introspectionConnections;
  if (wrongConnections) return { target, verdict: `n/a (needs -c ${TARGETS.introspectionConnections})` };
  return { target, verdict: target === '—' ? 'ok' : 'pass' };
}

export function judgeLarge(result: LargeResult): string[] {
  if (result.outcome.kind !== 'measured') return [];
  const lines: string[] = [];
  for (const entry of result.outcome.introspection) {
    const ratio = summarizeLarge(entry.rounds).p99Ratio;
    lines.push(`${entry.id} p99 ratio ${ratio.toFixed(2)} (target ≤ ${TARGETS.largeP99Ratio}): ${ratio <= TARGETS.largeP99Ratio ? 'pass' : 'miss'}`);
  }
  const rss = toMb(result.outcome.memory.peakRss);
  if (rss !== undefined) lines.push(`peak RSS ${rss.toFixed(0)} MB (target ≤ ${TARGETS.peakRssMb}): ${rss <= TARGETS.peakRssMb ? 'pass' : 'miss'}`);
  return lines;
}
