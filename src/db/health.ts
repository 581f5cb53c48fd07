import { performance } from 'node:perf_hooks';
import type { DataSource } from 'typeorm';
import { type Clock, systemClock } from '../lib/clock.js';
import { databaseOutageKind, type OutageKind } from './outage.js';

/** A ping (SELECT 1) or probe write that takes longer than this counts as a failure. */
const CHECK_TIMEOUT_MS = 2000;
/** Concurrent and repeated readiness checks within this share one result (two probe writes a second at most). */
const CHECK_CACHE_MS = 500;
/** After a write was refused (disk full, read-only), the database counts as not ready for this long. */
const WRITE_FAILURE_HOLD_MS = 1000;

/** `ok`; `unreachable`: no answer to a trivial query; `writes_failing`: reads work, writes are refused. */
export type DatabaseReadiness = 'ok' | 'unreachable' | 'writes_failing';

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('database check timed out')), ms); });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether the database can serve requests, for `/readyz`: it answers a trivial query, and it takes
 * writes. A full disk or a read-only server answer reads as usual, so besides a probe write (one
 * row of `keyport_health`) every refused write that a request ran into counts: while writes are
 * refused the instance is not ready, with or without probe traffic.
 */
export class DatabaseHealth {
  /**
   * `performance.now()` of the last refused write and of the cached check: these windows only
   * matter inside this process. The probe row's `checkedAt` is wall-clock time, from the clock.
   */
  private lastRefusedWrite = -Infinity;
  private cached: { at: number; result: Promise<DatabaseReadiness> } | undefined;

  constructor(private readonly dataSource: DataSource, private readonly clock: Clock = systemClock) {}

  /** Called with errors requests ran into; remembers refused writes. Returns the outage kind, if any. */
  observe(err: unknown): OutageKind | undefined {
    const kind = databaseOutageKind(err);
    if (kind === 'storage') this.lastRefusedWrite = performance.now();
    return kind;
  }

  /** True when a trivial query answers within two seconds. */
  async ping(): Promise<boolean> {
    if (!this.dataSource.isInitialized) return false;
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), CHECK_TIMEOUT_MS);
      return true;
    } catch {
      return false;
    }
  }

  readiness(now = performance.now()): Promise<DatabaseReadiness> {
    if (this.cached && now - this.cached.at < CHECK_CACHE_MS) return this.cached.result;
    const result = this.check();
    this.cached = { at: now, result };
    return result;
  }

  private async check(): Promise<DatabaseReadiness> {
    if (!(await this.ping())) return 'unreachable';
    try {
      await withTimeout(this.dataSource.query('UPDATE keyport_health SET checkedAt = ? WHERE id = ?', [this.clock.now(), 'readiness']), CHECK_TIMEOUT_MS);
    } catch (err) {
      this.observe(err);
      return databaseOutageKind(err) === 'connection' ? 'unreachable' : 'writes_failing';
    }
    return performance.now() - this.lastRefusedWrite < WRITE_FAILURE_HOLD_MS ? 'writes_failing' : 'ok';
  }
}
