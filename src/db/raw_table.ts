import { QueryFailedError, type DataSource, type EntityTarget, type ObjectLiteral } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata.js';

/**
 * Plain parameterised SQL on one entity's table, for the few queries that run on every request.
 *
 * A repository call builds its SQL anew each time (find options → query builder → alias and
 * property-name rewriting → hydration): measured at ~100 µs of CPU per primary-key read on
 * SQLite and ~280 µs more than the round trip on MySQL, several times the read itself. Here the
 * SQL is written once, with names escaped by the driver, and values go through the driver's own
 * conversions (`preparePersistentValue` / `prepareHydratedValue`), so rows read and written this
 * way are exactly what the repository would read and write. Both drivers take `?` placeholders.
 *
 * On MySQL the statement goes straight to a pooled mysql2 connection through its callback API,
 * as TypeORM's query runner would send it but without its promise wrapper: mysql2's promise API
 * captures a stack trace per query (captureStackHolder, 3 % of a login's CPU), and the runner adds
 * its broadcaster and result copying. Errors come back as TypeORM's QueryFailedError, as before.
 */
export class RawTable<Entity extends ObjectLiteral> {
  readonly metadata: EntityMetadata;
  /** The escaped table name. */
  readonly table: string;

  constructor(private readonly dataSource: DataSource, target: EntityTarget<Entity>) {
    this.metadata = dataSource.getMetadata(target);
    this.table = dataSource.driver.escape(this.metadata.tablePath);
  }

  get isSqlite(): boolean {
    return this.dataSource.options.type === 'better-sqlite3';
  }

  /** The escaped column name of an entity property. */
  column(property: keyof Entity & string): string {
    return this.dataSource.driver.escape(this.columnMetadata(property).databaseName);
  }

  /** `?, ?, ?` */
  placeholders(count: number): string {
    return Array.from({ length: count }, () => '?').join(', ');
  }

  /** A value as the driver stores it (e.g. a Date as SQLite's UTC datetime text). */
  persist(property: keyof Entity & string, value: unknown): unknown {
    return value === null || value === undefined ? null : this.dataSource.driver.preparePersistentValue(value, this.columnMetadata(property));
  }

  /** A stored value as the repository would return it (e.g. datetime text as a Date). */
  hydrate<K extends keyof Entity & string>(property: K, raw: unknown): Entity[K] {
    return (raw === null || raw === undefined ? null : this.dataSource.driver.prepareHydratedValue(raw, this.columnMetadata(property))) as Entity[K];
  }

  /** Runs a write (INSERT, UPDATE, DELETE); resolves with the number of rows it changed. */
  async execute(sql: string, parameters: unknown[]): Promise<number> {
    const pool = this.mysqlPool();
    if (pool) return ((await this.onMysql(pool, sql, parameters)) as { affectedRows?: number }).affectedRows ?? 0;
    const runner = this.dataSource.createQueryRunner();
    try {
      // The structured result is the only one that carries the count on both drivers.
      const result = (await runner.query(sql, parameters, true)) as { affected?: number };
      return result.affected ?? 0;
    } finally {
      await runner.release();
    }
  }

  /** Runs the statement; rows keyed by database column name (SELECT), or the driver's result. */
  query<Row = Record<string, unknown>>(sql: string, parameters: unknown[]): Promise<Row[]> {
    const pool = this.mysqlPool();
    if (pool) return this.onMysql(pool, sql, parameters) as Promise<Row[]>;
    return this.dataSource.query(sql, parameters) as Promise<Row[]>;
  }

  /** The mysql2 pool of an initialised MySQL DataSource without replication; undefined otherwise. */
  private mysqlPool(): MysqlPool | undefined {
    if (this.dataSource.options.type !== 'mysql' && this.dataSource.options.type !== 'mariadb') return undefined;
    return (this.dataSource.driver as unknown as { pool?: MysqlPool }).pool;
  }

  private onMysql(pool: MysqlPool, sql: string, parameters: unknown[]): Promise<unknown> {
    const driver = this.dataSource.driver as unknown as { prepareDbConnection(connection: MysqlConnection): MysqlConnection };
    return new Promise((resolve, reject) => {
      pool.getConnection((connectError, connection) => {
        if (connectError) {
          reject(new QueryFailedError(sql, parameters, connectError));
          return;
        }
        // TypeORM's own step for every connection it takes: an error listener, so a broken idle
        // connection is logged instead of crashing the process.
        driver.prepareDbConnection(connection);
        connection.query(sql, parameters, (queryError, result) => {
          connection.release();
          if (queryError) reject(new QueryFailedError(sql, parameters, queryError));
          else resolve(result);
        });
      });
    });
  }

  private columnMetadata(property: string): ColumnMetadata {
    const column = this.metadata.findColumnWithPropertyName(property);
    if (!column) throw new Error(`${this.metadata.name} has no column ${property}`);
    return column;
  }
}

/** The part of mysql2's callback pool used here. */
interface MysqlPool {
  getConnection(callback: (err: Error | null, connection: MysqlConnection) => void): void;
}

interface MysqlConnection {
  query(sql: string, values: unknown[], callback: (err: Error | null, result: unknown) => void): void;
  release(): void;
}
