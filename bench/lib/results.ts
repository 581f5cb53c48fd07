import type { Measurement } from './load.js';
import type { DbKind, ScenarioId } from './options.js';
import type { MemoryReport } from './rss.js';
import { median } from './stats.js';

/** One line of the results: a scenario on one server (Keyport on a database, or the bare engine). */
export interface Row {
  readonly id: ScenarioId;
  readonly title: string;
  readonly server: 'keyport' | 'bare';
  /**
   * Keyport's database; for the bare engine (its in-memory adapter), the database block it was
   * measured in, next to the Keyport rows it is the reference of.
   */
  readonly db: DbKind | undefined;
  readonly outcome:
    | { readonly kind: 'measured'; readonly measurement: Measurement; readonly memory: MemoryReport; readonly note?: string }
    | { readonly kind: 'unavailable'; readonly reason: string };
}

/** The --large measurement on one database. */
export interface LargeResult {
  readonly db: DbKind;
  readonly outcome:
    | {
        readonly kind: 'measured';
        /** How the tokens were minted (endpoints and share). */
        readonly method: string;
        readonly minted: { readonly small: number; readonly large: number };
        /** The large server's fill. */
        readonly fillSeconds: number;
        /** Failed requests in both servers' fills. */
        readonly fillErrors: number;
        /** Introspection at each size, by scenario id: one pair of measurements per round. */
        readonly introspection: ReadonlyArray<{ readonly id: ScenarioId; readonly title: string; readonly rounds: readonly LargeRound[] }>;
        /** VmRSS / VmHWM right after the large fill, in bytes. */
        readonly rssAfterFill: number | undefined;
        readonly hwmAfterFill: number | undefined;
        /** Peak over the whole large phase. */
        readonly memory: MemoryReport;
      }
    | { readonly kind: 'unavailable'; readonly reason: string };
}

/** One round of the --large measurement: the same introspection on both servers, back to back. */
export interface LargeRound {
  readonly small: Measurement;
  readonly large: Measurement;
}

/** Medians over a --large introspection's rounds; `p99Ratio` is the median of the rounds' own ratios. */
export interface LargeSummary {
  readonly small: { readonly perSecond: number; readonly p50Ms: number; readonly p99Ms: number };
  readonly large: { readonly perSecond: number; readonly p50Ms: number; readonly p99Ms: number };
  readonly p99Ratio: number;
  /** Each round's p99 ratio, in round order. */
  readonly roundRatios: readonly number[];
}

export function summarizeLarge(rounds: readonly LargeRound[]): LargeSummary {
  const side = (pick: (round: LargeRound) => Measurement) => ({
    perSecond: median(rounds.map((r) => pick(r).perSecond)),
    p50Ms: median(rounds.map((r) => pick(r).p50Ms)),
    p99Ms: median(rounds.map((r) => pick(r).p99Ms)),
  });
  const roundRatios = rounds.map((r) => (r.small.p99Ms > 0 ? r.large.p99Ms / r.small.p99Ms : Number.POSITIVE_INFINITY));
  return { small: side((r) => r.small), large: side((r) => r.large), p99Ratio: median(roundRatios), roundRatios };
}

/** The bare engine's row a Keyport row is compared with (the engine cannot introspect JWTs: 6b stands in). */
export function baselineIdFor(id: ScenarioId): ScenarioId | undefined {
  switch (id) {
    case '1': return '1';
    case '2': return '2';
    case '6a': case '6b': case '6c': return '6b';
    default: return undefined;
  }
}

export function ratioToBaseline(row: Row, rows: readonly Row[]): number | undefined {
  if (row.server !== 'keyport' || row.outcome.kind !== 'measured') return undefined;
  const baseId = baselineIdFor(row.id);
  // Only the bare figure of the same database block: another block's was taken minutes away, on a machine whose speed drifts.
  const base = rows.find((r) => r.server === 'bare' && r.id === baseId && r.db === row.db);
  if (base?.outcome.kind !== 'measured' || base.outcome.measurement.perSecond <= 0) return undefined;
  return row.outcome.measurement.perSecond / base.outcome.measurement.perSecond;
}
