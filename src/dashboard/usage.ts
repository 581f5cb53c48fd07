import { In, MoreThanOrEqual, LessThan, type DataSource, type Repository } from 'typeorm';
import { sql } from 'kysely';
import { KeyUsageHour } from '../db/entities/key_usage_hour.js';
import { primaryReads, type StaleReads } from '../db/replicas.js';
import { compile, param, SqlRunner, type Statement } from '../db/stores/sql.js';
import { dateToDb } from '../db/stores/values.js';
import { type Clock, systemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { WriteBehindBuffer } from '../lib/write_behind.js';

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

/** Adds a bucket's counts to the pending one of the same (key, hour). */
function addCounts(pending: PendingBucket, incoming: PendingBucket): PendingBucket {
  pending.requests += incoming.requests;
  pending.rejections += incoming.rejections;
  return pending;
}

/**
 * Per-key request and rate-limit-rejection counts in hourly buckets. Counting is an in-memory
 * increment on the request path; every few seconds (and at shutdown) the buckets are added to
 * `key_usage_hours` with one increment-or-insert per (key, hour): plain UPDATE then INSERT, which
 * works the same on SQLite and MySQL and adds up correctly when several instances write the same
 * bucket. Readers see the table plus what this instance has not written yet.
 *
 * The timing is the shared WriteBehindBuffer (src/lib/write_behind.ts); particular to usage
 * counts: counts add up, at most 20 000 buckets wait (then a flush starts at once), and buckets
 * whose write failed are put back for the next flush, up to that bound.
 */
export class KeyUsageCounter {
  private readonly rows: Repository<KeyUsageHour>;
  private readonly runner: SqlRunner;
  /** Adds a bucket's counts to its row, creating it if absent: one atomic statement. */
  private readonly addSql: Statement;
  private readonly buffer: WriteBehindBuffer<string, PendingBucket>;
  private readonly clock: Clock;
  private lastPrune = 0;

  /** @param reads where the charts are read (a replica may serve them: docs/scaling.md); counts are written to `dataSource`. */
  constructor(dataSource: DataSource, private readonly logger: Logger, flushIntervalMs = USAGE_FLUSH_INTERVAL_MS, clock: Clock = systemClock, private readonly reads: StaleReads = primaryReads(dataSource)) {
    this.rows = dataSource.getRepository(KeyUsageHour);
    this.runner = new SqlRunner(dataSource);
    this.addSql = addStatement(this.runner);
    this.clock = clock;
    this.buffer = new WriteBehindBuffer<string, PendingBucket>({
      delayMs: flushIntervalMs,
      maxPending: MAX_PENDING_BUCKETS,
      merge: addCounts,
      write: (batch, retryLater) => this.write(batch, retryLater),
    });
  }

  /** A request authenticated with the key (the key verifier calls this on every success). */
  recordRequest(keyId: string, at: number = this.clock.now()): void {
    this.add(keyId, at, 1, 0);
  }

  /** A request the rate limiter refused for this key. For the rate-limit feature to call. */
  recordRejection(keyId: string, at: number = this.clock.now()): void {
    this.add(keyId, at, 0, 1);
  }

  private add(keyId: string, at: number, requests: number, rejections: number): void {
    const hour = hourOf(at);
    this.buffer.add(`${keyId} ${hour}`, { keyId, hour, requests, rejections });
  }

  /** Writes what is pending now (timer, shutdown, tests). Failed writes are kept for the next flush. */
  flush(): Promise<void> {
    return this.buffer.flush();
  }

  private async write(batch: ReadonlyMap<string, PendingBucket>, retryLater: (buckets: Iterable<[string, PendingBucket]>) => void): Promise<void> {
    const failed: Array<[string, PendingBucket]> = [];
    let lastError: unknown;
    for (const [id, bucket] of batch) {
      try {
        await this.addToRow(bucket);
      } catch (err) {
        failed.push([id, bucket]);
        lastError = err;
      }
    }
    if (failed.length > 0) {
      // Usage figures are for humans; a database hiccup loses nothing unless it outlasts the memory bound.
      this.logger.warn('could not record key usage; will retry', { err: lastError, buckets: failed.length });
      retryLater(failed);
    }
    await this.pruneNowAndThen();
  }

  /**
   * One upsert that adds: several instances flushing the same bucket at once each add theirs.
   * (It was an UPDATE, then an INSERT when no row was there, then the UPDATE again when another
   * instance's INSERT won: on MariaDB under load three instances at once lost one's counts to the
   * next flush in a CI run.)
   */
  private async addToRow(bucket: PendingBucket): Promise<void> {
    await this.runner.execute(this.addSql, [bucket.keyId, dateToDb(this.runner.dialect, new Date(bucket.hour)), Math.trunc(bucket.requests), Math.trunc(bucket.rejections)]);
  }

  private async pruneNowAndThen(now: number = this.clock.now()): Promise<void> {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    try {
      await this.rows.delete({ hourStart: LessThan(new Date(hourOf(now - USAGE_RETENTION_MS))) });
    } catch (err) {
      this.logger.warn('could not prune old key usage', { err });
    }
  }

  /** Usage of each key over the last 24 hours (keys without traffic get zeros). */
  async summaries(keyIds: readonly string[], now: number = this.clock.now()): Promise<Map<string, KeyUsageSummary>> {
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
    // The rows and the buckets not yet written, each bucket counted once (not lost while a flush is being written).
    const { table: rows, pending } = await this.buffer.readConsistently(async () => {
      const found: KeyUsageHour[] = [];
      for (let start = 0; start < keyIds.length; start += 500) {
        found.push(...await this.reads.dataSource().getRepository(KeyUsageHour).find({ where: { keyId: In(keyIds.slice(start, start + 500)), hourStart: MoreThanOrEqual(new Date(firstHour)) } }));
      }
      return found;
    });
    for (const row of rows) add(row.keyId, hourOf(row.hourStart.getTime()), Number(row.requests), Number(row.rejections));
    for (const bucket of pending) add(bucket.keyId, bucket.hour, bucket.requests, bucket.rejections);

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

  async summary(keyId: string, now: number = this.clock.now()): Promise<KeyUsageSummary> {
    return (await this.summaries([keyId], now)).get(keyId)!;
  }

  async close(): Promise<void> {
    await this.buffer.close();
  }
}

/** `INSERT … ON CONFLICT/DUPLICATE KEY UPDATE requests = requests + new, rejections = rejections + new`. */
function addStatement(runner: SqlRunner): Statement {
  const insert = runner.builder.insertInto('key_usage_hours').values({ keyId: param('keyId'), hourStart: param('hourStart'), requests: param('requests'), rejections: param('rejections') });
  const order = ['keyId', 'hourStart', 'requests', 'rejections'];
  if (runner.dialect === 'sqlite') {
    return compile(insert.onConflict((conflict) => conflict.columns(['keyId', 'hourStart']).doUpdateSet({
      requests: sql`${sql.ref('key_usage_hours.requests')} + ${sql.ref('excluded.requests')}`,
      rejections: sql`${sql.ref('key_usage_hours.rejections')} + ${sql.ref('excluded.rejections')}`,
    })), order);
  }
  return compile(insert.onDuplicateKeyUpdate({
    requests: sql`${sql.ref('requests')} + VALUES(${sql.ref('requests')})`,
    rejections: sql`${sql.ref('rejections')} + VALUES(${sql.ref('rejections')})`,
  }), order);
}
