import type { DataSource } from 'typeorm';
import type { DatabaseLimits } from '../config/config.js';
import { CircuitBreaker } from '../lib/circuit_breaker.js';
import type { Logger } from '../lib/logger.js';

/** The code of the error a query gets when no pooled connection came within DB_ACQUIRE_TIMEOUT_MS. */
export const ACQUIRE_TIMEOUT = 'KEYPORT_DB_ACQUIRE_TIMEOUT';
/** mysql2's code for a statement that got no answer within its `timeout`. */
export const QUERY_TIMEOUT = 'PROTOCOL_SEQUENCE_TIMEOUT';
/** The code of the error a query gets at once while the database circuit is open. */
export const CIRCUIT_OPEN = 'KEYPORT_DB_CIRCUIT_OPEN';
/** Failures in a row (timeouts, lost or refused connections) after which new work fails at once. */
export const DATABASE_BREAKER_FAILURES = 5;
/** How often a probe checks whether the database answers again while the circuit is open. */
export const DATABASE_PROBE_INTERVAL_MS = 250;

/** Errors that say the server is not answering; SQL errors (a duplicate key…) are answers. */
const NOT_ANSWERING = new Set([ACQUIRE_TIMEOUT, QUERY_TIMEOUT, 'PROTOCOL_CONNECTION_LOST', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ER_CON_COUNT_ERROR']);

type Callback = (err: Error | null, ...results: unknown[]) => void;

/** The part of mysql2's callback pool and pooled connection that is wrapped here. */
export interface BoundablePool {
  getConnection(callback: (err: Error | null, connection: BoundableConnection) => void): void;
}

export interface BoundableConnection {
  query(sql: unknown, values?: unknown, callback?: unknown): unknown;
  release(): void;
  destroy(): void;
}

const bounded = new WeakSet<object>();

function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function notAnswering(err: Error | null | undefined): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && NOT_ANSWERING.has(code);
}

/**
 * Gives mysql2's pool the bounds it lacks, for every path that takes a connection from it:
 * TypeORM's query runners (repositories, transactions, and the stores' SqlRunner, which takes its
 * connections through `QueryRunner.connect()`) alike.
 *
 * - Acquire timeout: a caller waits at most `acquireTimeoutMs` for a connection, then gets an
 *   error (503). Its place in mysql2's queue stays until a connection frees up, which is then
 *   handed straight back, so abandoned waiters still count against DB_QUEUE_LIMIT: while the
 *   server is stalled, the queue fills and further requests are refused at once.
 * - Query timeout: every statement without a timeout of its own gets `queryTimeoutMs`. A
 *   statement that times out leaves its connection in an unknown state (the answer may still
 *   come), so the connection is destroyed, not returned to the pool.
 * - Circuit breaker (optional): after DATABASE_BREAKER_FAILURES failures in a row that say the
 *   server is not answering, new work fails at once (503) instead of each request waiting out its
 *   own timeouts, until a probe (a connection and `SELECT 1`, bounded the same way) gets an answer.
 *
 * mysql2 has no such options (its `acquireTimeout` is ignored by the pool; `timeout` is per
 * query), so the pool object TypeORM created is wrapped in place; test/resilience covers it
 * against a frozen and a refusing server, so a driver upgrade that changes these calls fails there.
 */
export function boundPool(pool: BoundablePool, limits: Pick<DatabaseLimits, 'acquireTimeoutMs' | 'queryTimeoutMs'>, options: { logger?: Logger } = {}): PoolBounds {
  if (bounded.has(pool)) throw new Error('the pool is bounded already');
  bounded.add(pool);
  // Undefined while `withoutQueryTimeout` runs its work (migrations).
  let queryTimeoutMs: number | undefined = limits.queryTimeoutMs;
  const breaker = options.logger ? new CircuitBreaker({
    name: 'database',
    failureThreshold: DATABASE_BREAKER_FAILURES,
    probeIntervalMs: DATABASE_PROBE_INTERVAL_MS,
    probe: () => new Promise<void>((resolve, reject) => {
      acquireBounded((err, connection) => {
        if (err) {
          reject(err);
          return;
        }
        connection.query('SELECT 1', (queryError: Error | null) => {
          connection.release();
          if (queryError) reject(queryError);
          else resolve();
        });
      });
    }),
    logger: options.logger,
  }) : undefined;
  /** A statement's outcome: an error that says the server is away, or an answer (rows or an SQL error). */
  const report = (err: Error | null | undefined): void => {
    if (!breaker) return;
    if (notAnswering(err)) breaker.failed(err);
    else breaker.succeeded();
  };
  const acquire = pool.getConnection.bind(pool);
  const acquireBounded = (callback: (err: Error | null, connection: BoundableConnection) => void): void => {
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      callback(coded(`No database connection became free within ${limits.acquireTimeoutMs} ms.`, ACQUIRE_TIMEOUT), undefined as unknown as BoundableConnection);
    }, limits.acquireTimeoutMs);
    acquire((err, connection) => {
      if (answered) {
        // The waiter gave up: hand the connection on to the next one.
        if (!err && connection) connection.release();
        return;
      }
      answered = true;
      clearTimeout(timer);
      if (err) callback(err, connection);
      else callback(null, withQueryTimeout(connection, () => queryTimeoutMs, report));
    });
  };
  pool.getConnection = (callback) => {
    if (breaker && !breaker.allowsCalls) {
      process.nextTick(() => callback(coded('The database is not answering; retry shortly.', CIRCUIT_OPEN), undefined as unknown as BoundableConnection));
      return;
    }
    acquireBounded((err, connection) => {
      // No connection is no answer either way; only the kinds that say the server is away count.
      if (notAnswering(err)) breaker?.failed(err);
      callback(err, connection);
    });
  };
  return {
    breaker,
    async withoutQueryTimeout(work) {
      queryTimeoutMs = undefined;
      try {
        return await work();
      } finally {
        queryTimeoutMs = limits.queryTimeoutMs;
      }
    },
  };
}

/** What `boundPool` gives back. */
export interface PoolBounds {
  /** With a logger: the database circuit (`/readyz`, the outage answer). */
  readonly breaker: CircuitBreaker | undefined;
  /**
   * Runs `work` with statements unbounded (the acquire timeout and the circuit still apply): for
   * migrations, whose statements may rightly take longer than a request's. Only while nothing
   * else uses the pool (the database is being opened), as the setting is the pool's.
   */
  withoutQueryTimeout<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * Bounds the pool of a MySQL DataSource the moment TypeORM creates it, inside `initialize()`, so
 * the statements TypeORM runs there (current database, server version) and the migration check
 * are bounded too; bounding after `initialize()` left a command or a starting server waiting
 * forever on a database that accepted the connection and then stalled. `bounds()` is undefined
 * until the pool exists.
 */
export function boundPoolOnCreation(dataSource: DataSource, limits: Pick<DatabaseLimits, 'acquireTimeoutMs' | 'queryTimeoutMs'>, options: { logger?: Logger } = {}): { bounds(): PoolBounds | undefined } {
  // `createPool` is TypeORM's MysqlDriver method (0.3, protected in its types) that makes the pool
  // and checks a first connection; test/resilience/database_open.test.ts fails if it is bypassed.
  const driver = dataSource.driver as unknown as { createPool(connectionOptions: unknown): Promise<BoundablePool> };
  // A DataSource initialized again after a failure (a replica's next check) creates a new pool.
  const known = boundOnCreation.get(driver);
  if (known) return known;
  const create = driver.createPool.bind(driver);
  let bounds: PoolBounds | undefined;
  driver.createPool = async (connectionOptions) => {
    const pool = await create(connectionOptions);
    bounds = boundPool(pool, limits, options);
    return pool;
  };
  const created = { bounds: () => bounds };
  boundOnCreation.set(driver, created);
  return created;
}

const boundOnCreation = new WeakMap<object, { bounds(): PoolBounds | undefined }>();

function withQueryTimeout(connection: BoundableConnection, timeoutMs: () => number | undefined, report: (err: Error | null) => void): BoundableConnection {
  if (bounded.has(connection)) return connection;
  bounded.add(connection);
  const query = connection.query.bind(connection);
  connection.query = (sql: unknown, values?: unknown, callback?: unknown) => {
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    // A string, or a plain options object ({ sql, timeout, … }); anything else is passed as is.
    let options = sql;
    const timeout = timeoutMs();
    if (timeout !== undefined) {
      if (typeof sql === 'string') options = { sql, timeout };
      else if (sql !== null && typeof sql === 'object' && Object.getPrototypeOf(sql) === Object.prototype) {
        options = { timeout, ...(sql as Record<string, unknown>) };
      }
    }
    // mysql2 (3.24.6) leaves a statement's timer running when the connection dies under it: the
    // callback gets the network error, then "Query inactivity timeout" once the timer fires. That
    // second call is dropped here; counted, a burst of dead connections re-opened the circuit
    // `queryTimeoutMs` after the database was back (test/resilience/bounded_pool.test.ts).
    let settled = false;
    const done = typeof callback === 'function'
      ? (err: Error | null, ...results: unknown[]) => {
        if (settled) return;
        settled = true;
        if ((err as { code?: unknown } | null)?.code === QUERY_TIMEOUT) connection.destroy();
        report(err);
        (callback as Callback)(err, ...results);
      }
      : undefined;
    if (values === undefined) return done ? query(options, done) : query(options);
    return query(options, values, done);
  };
  return connection;
}
