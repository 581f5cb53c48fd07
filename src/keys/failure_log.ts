import type { AuditLog } from '../audit/audit_log.js';
import type { Logger } from '../lib/logger.js';

export type VerifyFailureReason = 'missing' | 'invalid' | 'expired' | 'revoked' | 'ip_not_allowed';

const WINDOW_MS = 60_000;
/** Audit rows per minute, all callers together: a flood of bad keys must not become a flood of writes. */
const MAX_ROWS_PER_WINDOW = 120;
const MAX_TRACKED = 10_000;

export interface VerifyFailure {
  readonly reason: VerifyFailureReason;
  readonly ip?: string;
  /** Only for keys that exist (expired, revoked, wrong address); never anything of the presented value. */
  readonly keyId?: string;
  readonly prefix?: string;
}

/**
 * Writes failed verifications to the audit trail, rate-limited: the first failure of each
 * (reason, address, key) per minute becomes a row, repeats are counted into the next row.
 * Fire-and-forget, so a failure answer never waits for the write; valid keys never come here.
 */
export class FailureLog {
  private windowStart = 0;
  private rowsInWindow = 0;
  private droppedInWindow = 0;
  private readonly seen = new Map<string, { windowStart: number; suppressed: number }>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly audit: AuditLog, private readonly logger: Logger) {}

  record(input: VerifyFailure, now: number = Date.now()): void {
    // A trusted X-Forwarded-For can carry anything; the audit column holds 64 characters.
    const failure = input.ip && input.ip.length > 64 ? { ...input, ip: input.ip.slice(0, 64) } : input;
    if (now - this.windowStart >= WINDOW_MS) {
      if (this.droppedInWindow > 0) this.logger.warn('key verification failures not audited (rate limit)', { count: this.droppedInWindow });
      this.windowStart = now;
      this.rowsInWindow = 0;
      this.droppedInWindow = 0;
    }
    const tuple = `${failure.reason}|${failure.ip ?? ''}|${failure.keyId ?? ''}`;
    const state = this.seen.get(tuple);
    if (state && now - state.windowStart < WINDOW_MS) {
      state.suppressed += 1;
      return;
    }
    if (this.rowsInWindow >= MAX_ROWS_PER_WINDOW) {
      this.droppedInWindow += 1;
      return;
    }
    if (this.seen.size >= MAX_TRACKED) this.seen.clear();
    this.seen.set(tuple, { windowStart: now, suppressed: 0 });
    this.rowsInWindow += 1;
    const write = this.audit.record({
      action: 'key.verify_failed',
      actor: 'anonymous',
      targetType: failure.keyId ? 'api_key' : undefined,
      targetId: failure.keyId,
      ip: failure.ip,
      details: { reason: failure.reason, ...(failure.prefix ? { prefix: failure.prefix } : {}), ...(state?.suppressed ? { repeats_since_last: state.suppressed } : {}) },
    }).catch((err: unknown) => { this.logger.warn('could not audit a failed key verification', { err }); });
    this.inFlight.add(write);
    void write.finally(() => this.inFlight.delete(write));
  }

  /** Waits for pending writes (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }
}
