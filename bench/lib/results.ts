import type { Measurement } from './load.js';
import type { DbKind, ScenarioId } from './options.js';
import type { MemoryReport } from './rss.js';

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
        readonly fillSeconds: number;
        readonly fillErrors: number;
        /** Introspection at each size, by scenario id. */
        readonly introspection: ReadonlyArray<{ readonly id: ScenarioId; readonly title: string; readonly small: Measurement; readonly large: Measurement }>;
        /** VmRSS / VmHWM right after the large fill, in bytes. */
        readonly rssAfterFill: number | undefined;
        readonly hwmAfterFill: number | undefined;
        /** Peak over the whole large phase. */
        readonly memory: MemoryReport;
      }
    | { readonly kind: 'unavailable'; readonly reason: string };
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
