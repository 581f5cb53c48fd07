import { MoreThanOrEqual, type Repository } from 'typeorm';
import type { ApiKey } from '../db/entities/api_key.js';
import type { Clock } from '../lib/clock.js';
import { FreshnessGate } from '../lib/freshness.js';
import type { Logger } from '../lib/logger.js';
import type { VerificationCache } from './verification_cache.js';

/** How stale the cache may be about changes made by another process (the CLI, an instance without Redis). */
export const SWEEP_INTERVAL_MS = 250;
/** Looks back this far beyond the last sweep: covers commit delays and small clock differences between hosts. */
const LOOKBACK_MS = 10_000;

/**
 * The bus tells instances about revocations made by their peers, but without Redis a `keyport
 * key:revoke` run in another process reaches nobody. So before trusting the cache, a verifier
 * asks, at most every 250 ms and only while something is cached, which keys changed since the
 * last look (one indexed query on `updatedAt`) and drops them. Idle instances make no query;
 * under load it is four small reads a second, not one per request.
 *
 * When to look is the shared FreshnessGate (src/lib/freshness.ts); what is particular here:
 * - always the interval, on SQLite too (no change counter): staleness of at most 250 ms is the
 *   promise for keys (docs/architecture.md, "Sweeps");
 * - a verification that finds a look running waits for that one (`joinRunningLook`), not for
 *   one started after it: within the interval either way, and one query of waiting under a slow
 *   database rather than two;
 * - a failed look keeps the cache (the client cache and revocation registry drop theirs): a
 *   database outage should not turn every valid key into a 503; the next look covers the window.
 */
export class ChangeSweep {
  /** Changes committed before this instant are known to the cache. */
  private coveredUntil = 0;
  private readonly gate: FreshnessGate;

  constructor(private readonly keys: Repository<ApiKey>, private readonly cache: VerificationCache, private readonly logger: Logger, clock: Clock) {
    this.gate = new FreshnessGate(SWEEP_INTERVAL_MS, (startedAt) => this.look(startedAt), undefined, { clock, joinRunningLook: true });
  }

  /** Undefined when the last look is recent; otherwise resolves after one look (shared by concurrent callers). */
  ensureFresh(now: number): Promise<void> | undefined {
    return this.gate.ensureFresh(now);
  }

  private async look(startedAt: number): Promise<void> {
    if (this.cache.size === 0) {
      // Nothing cached: whatever is loaded from now on is read fresh from the database.
      this.coveredUntil = startedAt;
      return;
    }
    try {
      const changed = await this.keys.find({
        select: { id: true },
        where: { updatedAt: MoreThanOrEqual(new Date(this.coveredUntil - LOOKBACK_MS)) },
      });
      if (changed.length > 0) this.cache.evict({ keyIds: changed.map((row) => row.id) });
      this.coveredUntil = startedAt;
    } catch (err) {
      // Keep serving from the cache (the next look covers this window too); a database outage
      // should not turn every valid key into a 503.
      this.logger.warn('key change sweep failed', { err });
    }
  }
}
