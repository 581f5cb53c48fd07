import { In, type Repository } from 'typeorm';
import type { ApiKey } from '../db/entities/api_key.js';
import type { Logger } from '../lib/logger.js';

/** lastUsedAt is for humans ("used 3 minutes ago"): a minute's precision is plenty. */
const WRITE_AT_MOST_EVERY_MS = 60_000;
const FLUSH_DELAY_MS = 5_000;
const MAX_REMEMBERED = 100_000;

/**
 * Records when keys were last used without a database write per request: at most one write per
 * key per minute, batched into one UPDATE a few seconds later, off the request path.
 */
export class UsageTracker {
  private readonly lastScheduled = new Map<string, number>();
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly keys: Repository<ApiKey>, private readonly logger: Logger) {}

  touch(keyId: string, now: number): void {
    const last = this.lastScheduled.get(keyId);
    if (last !== undefined && now - last < WRITE_AT_MOST_EVERY_MS) return;
    if (this.lastScheduled.size >= MAX_REMEMBERED) this.lastScheduled.clear();
    this.lastScheduled.set(keyId, now);
    this.pending.set(keyId, now);
    this.timer ??= setTimeout(() => { void this.flush(); }, FLUSH_DELAY_MS).unref();
  }

  /** Writes what is pending. Called by the timer, at shutdown, and by tests that want it now. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.write(batch).finally(() => { this.flushing = undefined; });
    await this.flushing;
  }

  private async write(batch: Map<string, number>): Promise<void> {
    const ids = [...batch.keys()];
    let newest = 0;
    for (const at of batch.values()) newest = Math.max(newest, at);
    const latest = new Date(newest);
    try {
      for (let start = 0; start < ids.length; start += 500) {
        await this.keys.update({ id: In(ids.slice(start, start + 500)) }, { lastUsedAt: latest });
      }
    } catch (err) {
      // Losing a "last used" timestamp is harmless; failing a request over it would not be.
      this.logger.warn('could not record key usage', { err, keys: ids.length });
    }
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
