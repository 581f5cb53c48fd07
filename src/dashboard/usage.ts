import { In, MoreThanOrEqual, LessThan, type DataSource, type Repository } from 'typeorm';
import { KeyUsageHour } from '../db/entities/key_usage_hour.js';
import type { Logger } from '../lib/logger.js';

export const HOUR_MS = 3_600_000;
/** Counts wait this long in memory before they are added to the table. */
export const USAGE_FLUSH_INTERVAL_MS = 5_000;
/** The dashboard shows a day; a week more is kept for a look back, then deleted. */
export const USAGE_RETENTION_MS = 8 * 24 * HOUR_MS;
export const USAGE_CHART_HOURS = 24;
/** (key, hour) buckets held in memory at most; beyond that a flush starts at once. */
const MAX_PENDING_BUCKETS = 20_000;
const PRUNE_EVERY_MS = HOUR_MS;

export interface UsageCounts {
  requests: number;
  rejections: number;
}

export interface HourlyUsage extends UsageCounts {
  /** Start of the clock hour, UTC. */
  readonly hourStart: Date;
}

/** One key's usage as the dashboard shows it. */
export interface KeyUsageSummary {
  /** The current clock hour (UTC), up to now. */
  readonly thisHour: UsageCounts;
  /** The last 24 clock hours, the current one included. */
  readonly lastDay: UsageCounts;
  /** 24 buckets, oldest first, ending with the current hour; hours without traffic are zeros. */
  readonly hourly: readonly HourlyUsage[];
}

interface PendingBucket extends UsageCounts {
  readonly keyId: string;
  readonly hour: number;
}

export function hourOf(at: number): number {
  return Math.floor(at / HOUR_MS) * HOUR_MS;
}

/**
 * Per-key request and rate-limit-rejection counts in hourly buckets. Counting is an in-memory
 * increment on the request path; every few seconds (and at shutdown) the buckets are added to
 * `key_usage_hours` with one increment-or-insert per (key, hour): plain UPDATE then INSERT, which
 * works the same on SQLite and MySQL and adds up correctly when several instances write the same
 * bucket. Readers see the table plus what this instance has not written yet.
 */
export class KeyUsageCounter {
  private readonly rows: Repository<KeyUsageHour>;
  private pending = new Map<string, PendingBucket>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastPrune = 0;

  constructor(dataSource: DataSource, private readonly logger: Logger, private readonly flushIntervalMs = USAGE_FLUSH_INTERVAL_MS) {
    this.rows = dataSource.getRepository(KeyUsageHour);
  }

  /** A request authenticated with the key (the key verifier calls this on every success). */
  recordRequest(keyId: string, at: number = Date.now()): void {
    this.add(keyId, at, 1, 0);
  }

  /** A request the rate limiter refused for this key. For the rate-limit feature to call. */
  recordRejection(keyId: string, at: number = Date.now()): void {
    this.add(keyId, at, 0, 1);
  }

  private add(keyId: string, at: number, requests: number, rejections: number): void {
    const hour = hourOf(at);
    const id = `${keyId} ${hour}`;
    const bucket = this.pending.get(id);
    if (bucket) {
      bucket.requests += requests;
      bucket.rejections += rejections;
    } else {
      this.pending.set(id, { keyId, hour, requests, rejections });
    }
    if (this.pending.size >= MAX_PENDING_BUCKETS) void this.flush();
    else this.timer ??= setTimeout(() => { void this.flush(); }, this.flushIntervalMs).unref();
  }

  /** Writes what is pending now (timer, shutdown, tests). Failed writes are kept for the next flush. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing !== undefined) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.write(batch).finally(() => { this.flushing = undefined; });
    await this.flushing;
  }

  private async write(batch: Map<string, PendingBucket>): Promise<void> {
    const failed: PendingBucket[] = [];
    let lastError: unknown;
    for (const bucket of batch.values()) {
      try {
        await this.addToRow(bucket);
      } catch (err) {
        failed.push(bucket);
        lastError = err;
      }
    }
    if (failed.length > 0) {
      // Usage figures are for humans; a database hiccup loses nothing unless it outlasts the memory bound.
      this.logger.warn('could not record key usage; will retry', { err: lastError, buckets: failed.length });
      for (const bucket of failed) {
        if (this.pending.size >= MAX_PENDING_BUCKETS) break;
        this.merge(bucket);
      }
      this.timer ??= setTimeout(() => { void this.flush(); }, this.flushIntervalMs).unref();
    }
    await this.pruneNowAndThen();
  }

  private merge(bucket: PendingBucket): void {
    const id = `${bucket.keyId} ${bucket.hour}`;
    const current = this.pending.get(id);
    if (current) {
      current.requests += bucket.requests;
      current.rejections += bucket.rejections;
    } else {
      this.pending.set(id, { ...bucket });
    }
  }

  private async addToRow(bucket: PendingBucket): Promise<void> {
    const hourStart = new Date(bucket.hour);
    // Both numbers are counters this process made, never caller input: safe to inline.
    const increment = (): Promise<number> => this.rows.createQueryBuilder().update(KeyUsageHour)
      .set({ requests: () => `requests + ${Math.trunc(bucket.requests)}`, rejections: () => `rejections + ${Math.trunc(bucket.rejections)}` })
      .where('keyId = :keyId AND hourStart = :hourStart', { keyId: bucket.keyId, hourStart })
      .execute()
      .then((result) => result.affected ?? 0);
    if ((await increment()) > 0) return;
    try {
      await this.rows.insert({ keyId: bucket.keyId, hourStart, requests: bucket.requests, rejections: bucket.rejections });
    } catch (err) {
      // Another instance inserted the same bucket in between: add to its row instead.
      if ((await increment()) > 0) return;
      throw err;
    }
  }

  private async pruneNowAndThen(now: number = Date.now()): Promise<void> {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    try {
      await this.rows.delete({ hourStart: LessThan(new Date(hourOf(now - USAGE_RETENTION_MS))) });
    } catch (err) {
      this.logger.warn('could not prune old key usage', { err });
    }
  }

  /** Usage of each key over the last 24 hours (keys without traffic get zeros). */
  async summaries(keyIds: readonly string[], now: number = Date.now()): Promise<Map<string, KeyUsageSummary>> {
    const currentHour = hourOf(now);
    const firstHour = currentHour - (USAGE_CHART_HOURS - 1) * HOUR_MS;
    const counts = new Map<string, Map<number, UsageCounts>>();
    for (const keyId of keyIds) counts.set(keyId, new Map());
    const add = (keyId: string, hour: number, requests: number, rejections: number): void => {
      const perHour = counts.get(keyId);
      if (!perHour || hour < firstHour || hour > currentHour) return;
      const bucket = perHour.get(hour) ?? { requests: 0, rejections: 0 };
      bucket.requests += requests;
      bucket.rejections += rejections;
      perHour.set(hour, bucket);
    };
    for (let start = 0; start < keyIds.length; start += 500) {
      const rows = await this.rows.find({ where: { keyId: In(keyIds.slice(start, start + 500)), hourStart: MoreThanOrEqual(new Date(firstHour)) } });
      for (const row of rows) add(row.keyId, hourOf(row.hourStart.getTime()), Number(row.requests), Number(row.rejections));
    }
    for (const bucket of this.pending.values()) add(bucket.keyId, bucket.hour, bucket.requests, bucket.rejections);

    const result = new Map<string, KeyUsageSummary>();
    for (const [keyId, perHour] of counts) {
      const hourly: HourlyUsage[] = [];
      for (let hour = firstHour; hour <= currentHour; hour += HOUR_MS) {
        const bucket = perHour.get(hour);
        hourly.push({ hourStart: new Date(hour), requests: bucket?.requests ?? 0, rejections: bucket?.rejections ?? 0 });
      }
      const sum = (items: readonly HourlyUsage[]): UsageCounts => items.reduce((total, item) => ({ requests: total.requests + item.requests, rejections: total.rejections + item.rejections }), { requests: 0, rejections: 0 });
      const last = hourly[hourly.length - 1]!;
      result.set(keyId, { thisHour: { requests: last.requests, rejections: last.rejections }, lastDay: sum(hourly), hourly });
    }
    return result;
  }

  async summary(keyId: string, now: number = Date.now()): Promise<KeyUsageSummary> {
    return (await this.summaries([keyId], now)).get(keyId)!;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
