import { DummyDriver, Kysely, MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type Compilable } from 'kysely';
import { QueryFailedError, type DataSource, type QueryRunner } from 'typeorm';
import type { BetterSqlite3Driver } from 'typeorm/driver/better-sqlite3/BetterSqlite3Driver.js';
import { retryOnLockConflict } from '../lock_conflicts.js';
import type { Tables } from './tables.js';

export type Dialect = 'sqlite' | 'mysql';

/** A statement compiled once for one dialect: SQL text with `?` placeholders. */
export interface Statement {
  readonly sql: string;
}

/**
 * Kysely as a compiler only (no driver: it never runs a query). The stores build each hot
 * statement once with it and run it themselves through `SqlRunner`, which is what keeps a call
 * cheap; anything else (admin listings, clean-up) stays on TypeORM's repositories.
 */
const compilers: Record<Dialect, Kysely<Tables>> = {
  sqlite: new Kysely<Tables>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  }),
  mysql: new Kysely<Tables>({
    dialect: {
      createAdapter: () => new MysqlAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new MysqlIntrospector(db),
      createQueryCompiler: () => new MysqlQueryCompiler(),
    },
  }),
};

const MARKER = '\u0000param:';

/**
 * A placeholder for a statement compiled once: `compile` checks that Kysely put the parameters in
 * the order the caller will pass them, so a statement and the array bound to it cannot drift apart.
 */
export function param(name: string): string {
  return `${MARKER}${name}`;
}

/** The query builder of a dialect, for building statements that `compile` then fixes. */
export function builderFor(dialect: Dialect): Kysely<Tables> {
  return compilers[dialect];
}

/**
 * Compiles a query built with `param()` placeholders; `order` lists the placeholder names in the
 * order the caller binds them. Throws when Kysely's order differs, or a value is not a placeholder
 * (a literal value would be bound as a parameter the caller does not pass).
 */
export function compile(query: Compilable, order: readonly string[]): Statement {
  const compiled = query.compile();
  const names = compiled.parameters.map((value) => (typeof value === 'string' && value.startsWith(MARKER) ? value.slice(MARKER.length) : undefined));
  if (names.length !== order.length || names.some((name, index) => name !== order[index])) {
    throw new Error(`statement parameters are [${names.join(', ')}], expected [${order.join(', ')}]: ${compiled.sql}`);
  }
  return { sql: compiled.sql };
}

/** Statements that differ only in how many rows or values they carry, each compiled once per count. */
export class StatementsByCount {
  private readonly built = new Map<number, Statement>();

  /** Callers bound the count (their batch size), so at most that many statements are kept. */
  constructor(private readonly build: (count: number) => Statement) {}

  for(count: number): Statement {
    let statement = this.built.get(count);
    if (statement === undefined) {
      statement = this.build(count);
      this.built.set(count, statement);
    }
    return statement;
  }
}

/** The part of better-sqlite3's prepared statement used here. */
interface SqliteStatement {
  readonly reader: boolean;
  all(...parameters: unknown[]): unknown[];
  run(...parameters: unknown[]): { changes: number };
}

/** The part of mysql2's callback connection used here. */
interface MysqlConnection {
  query(sql: string, values: unknown[], callback: (err: Error | null, result: unknown) => void): void;
}

/** Prepared SQLite statements kept per runner (FIFO beyond this; the stores use far fewer). */
const MAX_PREPARED = 1000;

/**
 * Runs compiled statements for the stores, through TypeORM's public surface only.
 *
 * A repository call builds its SQL anew each time (find options → query builder → alias and
 * property-name rewriting → hydration): measured at ~100 µs of CPU per primary-key read on SQLite
 * and ~280 µs more than the round trip on MySQL, several times the read itself. The stores compile
 * their statements once and run them here.
 *
 * - SQLite: the driver's `databaseConnection` (public on TypeORM's SQLite drivers) is the one
 *   better-sqlite3 handle every TypeORM query runner shares; statements are prepared once and run
 *   synchronously on it, as TypeORM's runner would, without its broadcaster and promise chain. A
 *   transaction opened through TypeORM (src/db/transaction.ts) is on the same handle, as before.
 * - MySQL: `QueryRunner.connect()` hands out the pooled mysql2 connection publicly, prepared by
 *   TypeORM (its error listener) and taken through the bounded pool (src/db/bounded_pool.ts:
 *   acquire and query timeouts, the circuit breaker) like every other query. The statement then
 *   goes to the connection's callback API: mysql2's promise API captures a stack trace per query
 *   (captureStackHolder, 3 % of a login's CPU), and the runner's own `query` adds its broadcaster
 *   and result copying. Chosen over a pool of our own built from DatabaseConfig: that would double
 *   the connections, and the bounds and breaker would have to be applied to two pools.
 *
 * Errors come back as TypeORM's QueryFailedError (the driver's error as `driverError`) on both.
 */
export class SqlRunner {
  readonly dialect: Dialect;
  private readonly prepared = new Map<string, SqliteStatement>();
  private preparedOn: unknown;

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dataSource.options.type === 'better-sqlite3' ? 'sqlite' : 'mysql';
  }

  /** The query builder of this database's dialect. */
  get builder(): Kysely<Tables> {
    return builderFor(this.dialect);
  }

  /** SQLite: whether the shared handle is inside a transaction (better-sqlite3's `inTransaction`); false on MySQL. */
  inTransaction(): boolean {
    if (this.dialect !== 'sqlite' || !this.dataSource.isInitialized) return false;
    return Boolean(((this.dataSource.driver as BetterSqlite3Driver).databaseConnection as { inTransaction?: boolean } | undefined)?.inTransaction);
  }

  /** Runs a SELECT; rows keyed by column name (or alias). */
  query<Row = Record<string, unknown>>(statement: Statement, parameters: readonly unknown[]): Promise<Row[]> {
    if (this.dialect === 'sqlite') return this.onSqlite(statement, parameters, true) as Promise<Row[]>;
    return this.onMysql(statement, parameters) as Promise<Row[]>;
  }

  /**
   * Runs a write (INSERT, UPDATE, DELETE); resolves with the number of rows it changed. On MySQL a
   * write the server rolled back for a lock conflict (a deadlock victim) runs again (lock_conflicts.ts).
   */
  async execute(statement: Statement, parameters: readonly unknown[]): Promise<number> {
    if (this.dialect === 'sqlite') return this.onSqlite(statement, parameters, false) as Promise<number>;
    const result = (await retryOnLockConflict(() => this.onMysql(statement, parameters))) as { affectedRows?: number };
    return result.affectedRows ?? 0;
  }

  private async onSqlite(statement: Statement, parameters: readonly unknown[], read: boolean): Promise<unknown> {
    try {
      const prepared = this.sqliteStatement(statement.sql);
      if (prepared.reader) return read ? prepared.all(...parameters) : 0;
      const { changes } = prepared.run(...parameters);
      return read ? [] : changes;
    } catch (err) {
      throw new QueryFailedError(statement.sql, [...parameters], err as Error);
    }
  }

  private sqliteStatement(sql: string): SqliteStatement {
    if (!this.dataSource.isInitialized) throw new Error('DataSource is not initialized');
    const connection = (this.dataSource.driver as BetterSqlite3Driver).databaseConnection as { prepare(sql: string): SqliteStatement };
    if (connection !== this.preparedOn) {
      // A new handle (the DataSource was reopened): statements belong to the handle that prepared them.
      this.prepared.clear();
      this.preparedOn = connection;
    }
    let prepared = this.prepared.get(sql);
    if (!prepared) {
      prepared = connection.prepare(sql);
      this.prepared.set(sql, prepared);
      if (this.prepared.size > MAX_PREPARED) this.prepared.delete(this.prepared.keys().next().value as string);
    }
    return prepared;
  }

  private onMysql(statement: Statement, parameters: readonly unknown[]): Promise<unknown> {
    const { sql } = statement;
    let runner: QueryRunner;
    try {
      runner = this.dataSource.createQueryRunner('master');
    } catch (err) {
      return Promise.reject(new QueryFailedError(sql, [...parameters], err as Error));
    }
    return (runner.connect() as Promise<MysqlConnection>).then(
      (connection) => new Promise((resolve, reject) => {
        try {
          connection.query(sql, parameters as unknown[], (queryError, result) => {
            void runner.release();
            if (queryError) reject(new QueryFailedError(sql, [...parameters], queryError));
            else resolve(result);
          });
        } catch (err) {
          void runner.release();
          reject(new QueryFailedError(sql, [...parameters], err as Error));
        }
      }),
      (connectError: Error) => {
        void runner.release();
        throw new QueryFailedError(sql, [...parameters], connectError);
      },
    );
  }
}
