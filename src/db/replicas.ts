import type { DataSource } from 'typeorm';
import { DEFAULT_DATABASE_LIMITS, type DatabaseLimits } from '../config/config.js';
import { parseDatabaseUrl } from '../config/database_url.js';
import type { Logger } from '../lib/logger.js';
import { createDataSource } from './data_source.js';
import { initializeDataSource } from './open_data_source.js';

/**
 * Where a read goes that may be stale by a replication delay: dashboard and admin listings, usage
 * charts, audit pages (docs/scaling.md "Which reads may go to a replica"). Everything else — key
 * verification, revocation checks, session claims, refresh, every write — keeps using the
 * primary's DataSource (`Database.dataSource`), so a replica that falls behind can show an old
 * listing but never make a revoked key, token or session pass.
 */
export interface StaleReads {
  /** A DataSource for one stale-tolerant read: a healthy replica close enough behind, else the primary. */
  dataSource(): DataSource;
}

/** Without replicas: every read on the primary. */
export function primaryReads(primary: DataSource): StaleReads {
  return { dataSource: () => primary };
}

export interface ReplicaReadsOptions {
  readonly logger: Logger;
  readonly limits?: DatabaseLimits;
  /** A replica further behind than this (or whose delay is unknown: replication stopped or broken) is skipped. */
  readonly maxLagSeconds: number;
  /** How often each replica's health and delay are checked. */
  readonly checkIntervalMs?: number;
}

interface Replica {
  readonly name: string;
  readonly dataSource: DataSource;
  usable: boolean;
  /** Set when the account may not run SHOW SLAVE STATUS: only reachability is checked then. */
  lagUnknowable: boolean;
}

const DEFAULT_CHECK_INTERVAL_MS = 1_000;

/**
 * Round robin over the usable replicas of `DATABASE_REPLICA_URLS`, the primary when none is.
 * A check per replica every second (`SHOW SLAVE STATUS`): reachable, replication running, and
 * `Seconds_Behind_Master` within DATABASE_REPLICA_MAX_LAG_S. A replica that fails a check serves
 * nothing until a later check passes; a read that fails on a replica is not retried (listings
 * answer 503 like any failed read, and the replica is skipped from the next check on).
 */
export class ReplicaReads implements StaleReads {
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  private constructor(private readonly primary: DataSource, private readonly replicas: Replica[], private readonly options: ReplicaReadsOptions) {}

  /** Opens a pool per replica (none of them needs to be up: a replica down is simply not used). */
  static async open(primary: DataSource, urls: readonly string[], options: ReplicaReadsOptions): Promise<ReplicaReads> {
    const limits = options.limits ?? DEFAULT_DATABASE_LIMITS;
    const replicas = urls.map((url): Replica => {
      const target = parseDatabaseUrl(url, process.cwd());
      const parsed = new URL(url);
      return { name: `${parsed.hostname}:${parsed.port || '3306'}`, dataSource: createDataSource(target, { limits }), usable: false, lagUnknowable: false };
    });
    const reads = new ReplicaReads(primary, replicas, options);
    await reads.checkAll();
    reads.timer = setInterval(() => { void reads.checkAll(); }, options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS);
    reads.timer.unref();
    return reads;
  }

  dataSource(): DataSource {
    const usable = this.replicas.filter((replica) => replica.usable);
    if (usable.length === 0) return this.primary;
    this.next = (this.next + 1) % usable.length;
    return usable[this.next]!.dataSource;
  }

  /** Which replicas serve reads now (for /readyz-style reports and tests). */
  usableReplicas(): string[] {
    return this.replicas.filter((replica) => replica.usable).map((replica) => replica.name);
  }

  /** Checks every replica now (also what the timer does); concurrent calls share one round. */
  checkAll(): Promise<void> {
    this.checking ??= Promise.all(this.replicas.map((replica) => this.check(replica))).then(() => undefined).finally(() => { this.checking = undefined; });
    return this.checking;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.checking;
    await Promise.all(this.replicas.map((replica) => (replica.dataSource.isInitialized ? replica.dataSource.destroy() : undefined)));
  }

  private async check(replica: Replica): Promise<void> {
    const was = replica.usable;
    let reason: string | undefined;
    try {
      if (!replica.dataSource.isInitialized) {
        await initializeDataSource(replica.dataSource, this.options.limits ?? DEFAULT_DATABASE_LIMITS);
      }
      reason = await this.lagProblem(replica);
    } catch (err) {
      reason = `unreachable (${(err as Error).message})`;
    }
    replica.usable = reason === undefined;
    if (was && !replica.usable) this.options.logger.warn('database replica skipped; its reads go to the primary', { replica: replica.name, reason });
    if (!was && replica.usable) this.options.logger.info('database replica serves stale-tolerant reads', { replica: replica.name });
  }

  /** Undefined when the replica is close enough behind; otherwise why not. */
  private async lagProblem(replica: Replica): Promise<string | undefined> {
    if (replica.lagUnknowable) {
      await replica.dataSource.query('SELECT 1');
      return undefined;
    }
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await replica.dataSource.query('SHOW SLAVE STATUS');
    } catch (err) {
      // ER_SPECIFIC_ACCESS_DENIED_ERROR / ER_ACCESS_DENIED_ERROR: grant REPLICATION CLIENT (MySQL) or SLAVE MONITOR (MariaDB) to check the delay.
      if (![1227, 1045].includes((err as { errno?: number }).errno ?? 0)) throw err;
      replica.lagUnknowable = true;
      this.options.logger.warn('database replica: this account may not read the replication delay; only reachability is checked', { replica: replica.name });
      return undefined;
    }
    // Not a replica at all (e.g. a Galera node, where every node is current): nothing to wait for.
    if (rows.length === 0) return undefined;
    const status = rows[0]!;
    if (status.Slave_SQL_Running !== 'Yes' || status.Slave_IO_Running !== 'Yes') return 'replication is not running';
    const behind = status.Seconds_Behind_Master;
    if (behind === null || behind === undefined) return 'replication delay unknown';
    if (Number(behind) > this.options.maxLagSeconds) return `${behind} s behind`;
    return undefined;
  }
}
