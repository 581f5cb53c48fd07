import { In, type Repository } from 'typeorm';
import type { ApiKey } from '../db/entities/api_key.js';
import type { Logger } from '../lib/logger.js';
import { WriteBehindBuffer } from '../lib/write_behind.js';

/** lastUsedAt is for humans ("used 3 minutes ago"): a minute's precision is plenty. */
const WRITE_AT_MOST_EVERY_MS = 60_000;
const FLUSH_DELAY_MS = 5_000;
const MAX_REMEMBERED = 100_000;

/**
 * Records when keys were last used without a database write per request: at most one write per
 * key per minute, batched into one UPDATE a few seconds later, off the request path (the shared
 * WriteBehindBuffer, src/lib/write_behind.ts). The per-key minute is this tracker's own; a later
 * touch of a key still pending replaces its time; a failed write is dropped, not retried (the
 * next use a minute later writes again).
 */
export class UsageTracker {
  private readonly lastScheduled = new Map<string, number>();
  private readonly buffer: WriteBehindBuffer<string, number>;

  constructor(private readonly keys: Repository<ApiKey>, private readonly logger: Logger) {
    this.buffer = new WriteBehindBuffer<string, number>({
      delayMs: FLUSH_DELAY_MS,
      merge: (_pending, incoming) => incoming,
      write: (batch) => this.write(batch),
    });
  }

  touch(keyId: string, now: number): void {
    const last = this.lastScheduled.get(keyId);
    if (last !== undefined && now - last < WRITE_AT_MOST_EVERY_MS) return;
    if (this.lastScheduled.size >= MAX_REMEMBERED) this.lastScheduled.clear();
    this.lastScheduled.set(keyId, now);
    this.buffer.add(keyId, now);
  }

  /** Writes what is pending. Called by the timer, at shutdown, and by tests that want it now. */
  flush(): Promise<void> {
    return this.buffer.flush();
  }

  private async write(batch: ReadonlyMap<string, number>): Promise<void> {
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
    await this.buffer.close();
  }
}
