import type { DataSource } from 'typeorm';
import type { BetterSqlite3Driver } from 'typeorm/driver/better-sqlite3/BetterSqlite3Driver.js';
import type { CircuitBreaker } from '../lib/circuit_breaker.js';
import type { Logger } from '../lib/logger.js';
import { DEFAULT_DATABASE_LIMITS, type DatabaseLimits } from '../config/config.js';
import type { DatabaseTarget } from '../config/database_url.js';
import { createDataSource } from './data_source.js';
import { DatabaseHealth } from './health.js';
import { databaseOutageKind } from './outage.js';
import { ACQUIRE_TIMEOUT } from './bounded_pool.js';
import { closeDataSource, initializeDataSource, notAnsweringWhileOpening } from './open_data_source.js';

/**
 * How long opening the database keeps trying when a MySQL server takes the connection but does not
 * finish its handshake within DB_ACQUIRE_TIMEOUT_MS (mysql2's connect timeout; 1 s by default, a
 * request's bound). A loaded MariaDB took longer than that in CI, and a starting server then exited
 * with "connect ETIMEDOUT". Opening happens once per process, before the port opens, so waiting
 * costs no request anything; the pool keeps the request's bound afterwards. A server that stops
 * answering statements still fails the opening within DB_QUERY_TIMEOUT_MS, and a refused
 * connection at once. The same 10 s a CLI command's connect timeout is
 * (COMMAND_ACQUIRE_TIMEOUT_MS, src/cli/dependencies.ts): a command's one attempt already waits that long.
 */
export const FIRST_HANDSHAKE_WAIT_MS = 10_000;

/**
 * Pooled MySQL connections a starting server opens before it serves. A request that needs a new
 * connection waits for its handshake within DB_ACQUIRE_TIMEOUT_MS, and one login runs up to three
 * statements at once: on a loaded MariaDB (CI) the first logins after a start got 503 while their
 * handshakes were made. mysql2 closes idle connections after a minute, so this serves the start
 * (a new instance joining under load), not a pool minimum.
 */
const WARM_CONNECTIONS = 4;

/**
 * A first connection that did not come in time: mysql2's error when the handshake did not complete
 * within its connect timeout, or the pool's acquire bound (the same 1 s) running out first.
 */
function isHandshakeTimeout(err: unknown): boolean {
  const { code, syscall } = (err ?? {}) as { code?: unknown; syscall?: unknown };
  return (code === 'ETIMEDOUT' && syscall === 'connect') || code === ACQUIRE_TIMEOUT;
}

/** The part of better-sqlite3's Database that `changeCounter` uses. */
interface SqliteConnection {
  prepare(source: string): { pluck(): { get(): unknown } };
}

/** The open database: a DataSource with migrations applied, plus the checks operations need. */
export class Database {
  /** Readiness: reachable and taking writes (`/readyz`). */
  readonly health: DatabaseHealth;

  /**
   * @param breaker MySQL: open while the server does not answer; new work then fails at once
   *   (src/db/bounded_pool.ts).
   */
  private constructor(readonly dataSource: DataSource, readonly type: DatabaseTarget['type'], readonly breaker?: CircuitBreaker) {
    this.health = new DatabaseHealth(dataSource);
  }

  /**
   * Opens the database and runs pending migrations (idempotent; safe with several instances on
   * MySQL). On MySQL the acquire and query timeouts apply from the first statement, the check for
   * pending migrations included, but not to the migrations themselves: a migration may take longer
   * than a request's statement should. `secret` (KEYPORT_SECRET) is needed by migrations that
   * convert stored data with keyed hashes; without it they refuse when there is anything to convert.
   * A handshake that times out is tried again for up to FIRST_HANDSHAKE_WAIT_MS. `warm` (the
   * server): on MySQL, WARM_CONNECTIONS of the pool are opened before this returns.
   */
  static async open(target: DatabaseTarget, logger: Logger, options: { migrate?: boolean; limits?: DatabaseLimits; secret?: string; warm?: boolean } = {}): Promise<Database> {
    const giveUpAt = performance.now() + FIRST_HANDSHAKE_WAIT_MS;
    for (;;) {
      try {
        const database = await Database.openOnce(target, logger, options);
        if (options.warm && database.type === 'mysql') await database.warmPool(Math.min(WARM_CONNECTIONS, (options.limits ?? DEFAULT_DATABASE_LIMITS).poolSize), logger);
        return database;
      } catch (err) {
        if (!isHandshakeTimeout(err) || performance.now() >= giveUpAt) throw err;
        logger.warn('the database did not finish its handshake within DB_ACQUIRE_TIMEOUT_MS while opening; trying again', { give_up_in_ms: Math.round(giveUpAt - performance.now()) });
      }
    }
  }

  private static async openOnce(target: DatabaseTarget, logger: Logger, options: { migrate?: boolean; limits?: DatabaseLimits; secret?: string }): Promise<Database> {
    const limits = options.limits ?? DEFAULT_DATABASE_LIMITS;
    const dataSource = createDataSource(target, { limits, secret: options.secret });
    const bounds = await initializeDataSource(dataSource, limits, { logger });
    try {
      if ((options.migrate ?? true) && await dataSource.showMigrations()) {
        const migrate = () => dataSource.runMigrations({ transaction: 'each' });
        const applied = bounds ? await bounds.withoutQueryTimeout(migrate) : await migrate();
        for (const migration of applied) logger.info('migration applied', { migration: migration.name });
      }
    } catch (err) {
      await closeDataSource(dataSource, bounds);
      throw notAnsweringWhileOpening(err, limits);
    }
    return new Database(dataSource, target.type, bounds?.breaker);
  }

  /**
   * A counter that moves whenever another connection commits (the CLI, another instance on the
   * same file): SQLite's `PRAGMA data_version`, a few microseconds a read. Caches use it to know,
   * exactly and cheaply, when to look at the table again (src/lib/freshness.ts). Undefined on
   * MySQL, which has no such signal (caches there rely on the bus and a periodic look).
   *
   * The reading is kept until the event loop's next turn. Each read takes and drops SQLite's WAL
   * read lock (fcntl calls on the -shm file), and under load several caches asked once or twice per
   * request: profiles of JWT introspection showed this read at 13 % of the server's CPU. A commit
   * elsewhere cannot be known to a request that arrived in the same turn as the reading, so one
   * reading per turn is as exact as one per call.
   */
  changeCounter(): (() => number) | undefined {
    if (this.type !== 'sqlite') return undefined;
    // `databaseConnection` is a public field of TypeORM's SQLite drivers: the one better-sqlite3 handle.
    const connection = (this.dataSource.driver as BetterSqlite3Driver).databaseConnection as SqliteConnection | undefined;
    if (!connection) return undefined;
    const statement = connection.prepare('PRAGMA data_version').pluck();
    let reading: number | undefined;
    const forget = (): void => { reading = undefined; };
    return () => {
      if (reading === undefined) {
        reading = Number(statement.get());
        setImmediate(forget);
      }
      return reading;
    };
  }

  /** Opens `count` pooled connections at once and hands them back (see WARM_CONNECTIONS); a failure only costs the warm-up. */
  private async warmPool(count: number, logger: Logger): Promise<void> {
    const runners = Array.from({ length: count }, () => this.dataSource.createQueryRunner('master'));
    const opened = await Promise.allSettled(runners.map((runner) => runner.connect()));
    await Promise.all(runners.map((runner) => runner.release()));
    const failed = opened.filter((result) => result.status === 'rejected');
    if (failed.length > 0) logger.warn('could not open every database connection ahead; requests will open them', { opened: count - failed.length, failed: failed.length, err: (failed[0] as PromiseRejectedResult).reason });
  }

  /**
   * Ends the pool (MySQL) or the handle (SQLite). A connection that cannot end cleanly because the
   * server is unreachable or stalled (a handshake held: "connect ETIMEDOUT") does not fail the
   * close: mysql2 reports the first such error once every connection was told to end, so the pool
   * is closed either way, and a shutdown during an outage must still finish.
   */
  async close(): Promise<void> {
    this.breaker?.close();
    if (!this.dataSource.isInitialized) return;
    try {
      await this.dataSource.destroy();
    } catch (err) {
      if (databaseOutageKind(err) !== 'connection') throw err;
    }
  }
}
