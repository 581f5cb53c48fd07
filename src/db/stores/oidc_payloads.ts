import { sql } from 'kysely';
import { In, LessThan, type DataSource, type Repository } from 'typeorm';
import { BatchLoader } from '../../lib/batch_loader.js';
import { BoundedCache } from '../../lib/lru.js';
import type { PayloadRow, PayloadRows, StoredPayload } from '../../oidc/adapter.js';
import { OidcPayload } from '../entities/oidc_payload.js';
import { retryOnLockConflict } from '../lock_conflicts.js';
import { failedOnTheRows } from '../outage.js';
import { compile, param, SqlRunner, StatementsByCount, type Statement } from './sql.js';
import { dateFromDb, dateToDb } from './values.js';

/** Reads by id per batch (each a model and a row id; the engine asks up to a handful of models per id). */
const MAX_BATCH_READS = 400;
/** Rows per batched upsert (8 placeholders each). */
const MAX_UPSERT_ROWS = 100;
/** `id IN (…) AND model IN (…)` statements kept, by (ids, models) count; FIFO beyond this. */
const MAX_READ_STATEMENTS = 256;
/** Rows (and absences) by (model, id) kept on SQLite between writes (see OidcPayloadTable `remembered`). */
const MAX_REMEMBERED_ROWS = 10_000;

/** The columns an upsert writes, in the order each row binds them (`consumedAt` is reset to NULL). */
const WRITTEN = ['model', 'id', 'payload', 'grantId', 'uid', 'userCode', 'clientId', 'expiresAt'] as const;
const SELECTED = ['model', 'id', 'payload', 'expiresAt', 'consumedAt'] as const;

interface RawStored {
  model: string;
  id: string;
  payload: string;
  expiresAt: unknown;
  consumedAt: unknown;
}

/**
 * `oidc_payloads` (one row per engine model instance), for PayloadStore (src/oidc/adapter.ts).
 * The hot statements (upsert, reads by id, uid and user code) are compiled once and batched; the
 * rest uses TypeORM's repository.
 */
export class OidcPayloadTable implements PayloadRows {
  private readonly rows: Repository<OidcPayload>;
  private readonly runner: SqlRunner;
  private readonly upsertSql: StatementsByCount;
  private readonly readSql = new Map<string, Statement>();
  private readonly findBySql: Record<'uid' | 'userCode', Statement>;
  private readonly usageSql: Statement;
  private readonly insertIfAbsentSql: Statement;
  private readonly deleteIfExpiredSql: Statement;
  /** Upserts of the same event-loop turn, sent as one statement (see BatchLoader `per-turn`). */
  private readonly upserts: BatchLoader<unknown[], void>;
  /** Reads by id: one `id IN (…) AND model IN (…)` query in flight at a time (see BatchLoader `serial`). */
  private readonly reads: BatchLoader<{ readonly model: string; readonly id: string }, RawStored | undefined>;
  /**
   * SQLite only: rows read by id (`{ row: undefined }` for an absent one), by `model\0id`, valid
   * while nothing wrote to the table. Why: under load a read by id cost ~33 µs of wall time per
   * request on the event loop (counted per statement in bench scenario 6b, one statement per
   * introspection; ~10 µs in a tight loop, the rest is a cold CPU cache between requests), the
   * largest single item of opaque-token introspection after the socket write.
   *
   * Exact, not "within an interval": every write of this table in this process (the only writer
   * here: nothing else in src/ writes `oidc_payloads`, and only the server's one table is given
   * the change counter, src/oidc/services.ts) drops what it touches, before it runs and
   * again when it is done, and a read whose statement ran while any write was under way is not
   * remembered (`writes` moved); a commit by another connection (the CLI, another instance on the
   * file) moves SQLite's `PRAGMA data_version`, which drops everything at the next read; nothing
   * is remembered from inside a transaction (it may roll back). Expiry and consumption are
   * judged on every read from the remembered columns, as from a fresh row. Not on MySQL: other
   * instances write without a signal this process could see.
   */
  private readonly remembered: BoundedCache<string, { readonly row: StoredPayload | undefined }> | undefined;
  private readonly changeCounter: (() => number) | undefined;
  /** The change counter's reading the remembered rows belong to. */
  private rememberedVersion: number | undefined;
  /** Moves at the start and at the end of every write of this table. */
  private writes = 0;

  /**
   * @param changeCounter SQLite's change counter (Database.changeCounter); with it, reads by id
   *   are remembered between writes (see `remembered`).
   */
  constructor(dataSource: DataSource, changeCounter?: () => number) {
    this.rows = dataSource.getRepository(OidcPayload);
    this.runner = new SqlRunner(dataSource);
    this.upsertSql = new StatementsByCount((count) => this.upsertStatement(count));
    const db = this.runner.builder;
    const findBy = (column: 'uid' | 'userCode'): Statement => compile(
      db.selectFrom('oidc_payloads').select([...SELECTED]).where('model', '=', param('model')).where(column, '=', param('value')).limit(sql.lit(1)),
      ['model', 'value'],
    );
    this.findBySql = { uid: findBy('uid'), userCode: findBy('userCode') };
    this.insertIfAbsentSql = compile(
      db.insertInto('oidc_payloads').orIgnore().values({ model: param('model'), id: param('id'), payload: param('payload'), expiresAt: param('expiresAt') }),
      ['model', 'id', 'payload', 'expiresAt'],
    );
    this.deleteIfExpiredSql = compile(
      db.deleteFrom('oidc_payloads').where('model', '=', param('model')).where('id', '=', param('id')).where('expiresAt', '<=', param('now')),
      ['model', 'id', 'now'],
    );
    this.changeCounter = this.runner.dialect === 'sqlite' ? changeCounter : undefined;
    this.remembered = this.changeCounter ? new BoundedCache({ maxEntries: MAX_REMEMBERED_ROWS }) : undefined;
    this.usageSql = compile(db.selectFrom('oidc_payloads').select(['expiresAt', 'consumedAt']).where('model', '=', param('model')).where('id', '=', param('id')), ['model', 'id']);
    this.upserts = new BatchLoader<unknown[], void>({
      dispatch: 'per-turn',
      maxBatch: MAX_UPSERT_ROWS,
      runBatch: async (rows) => {
        await this.writing(rows.map((row) => rememberedKey(row[0] as string, row[1] as string)), () => this.runner.execute(this.upsertSql.for(rows.length), rows.flat()));
        return rows.map(() => undefined);
      },
      retryAlone: failedOnTheRows,
      runOne: async (row) => { await this.writing([rememberedKey(row[0] as string, row[1] as string)], () => this.runner.execute(this.upsertSql.for(1), row)); },
    });
    this.reads = new BatchLoader({
      dispatch: 'serial',
      maxBatch: MAX_BATCH_READS,
      runBatch: async (reads) => {
        const ids = [...new Set(reads.map((read) => read.id))];
        const models = [...new Set(reads.map((read) => read.model))];
        const writesBefore = this.writes;
        // SQLite runs the statement synchronously inside query(): this is its transaction state.
        const inTransaction = this.remembered !== undefined && this.runner.inTransaction();
        const rows = await this.runner.query<RawStored>(this.readStatement(ids.length, models.length), [...ids, ...models]);
        const found = new Map(rows.map((row) => [rememberedKey(row.model, row.id), row]));
        const results = reads.map((read) => found.get(rememberedKey(read.model, read.id)));
        if (this.remembered && !inTransaction && this.writes === writesBefore) {
          for (const [index, read] of reads.entries()) this.remembered.set(rememberedKey(read.model, read.id), { row: results[index] && stored(results[index]!) });
        }
        return results;
      },
    });
  }

  async upsert(row: PayloadRow): Promise<void> {
    const dialect = this.runner.dialect;
    await this.upserts.load([row.model, row.id, row.payload, row.grantId, row.uid, row.userCode, row.clientId, dateToDb(dialect, row.expiresAt)]);
  }

  async findById(model: string, id: string): Promise<StoredPayload | undefined> {
    if (this.remembered) {
      const version = this.changeCounter!();
      if (version !== this.rememberedVersion) {
        this.remembered.clear();
        this.rememberedVersion = version;
      }
      const hit = this.remembered.get(rememberedKey(model, id));
      if (hit) return hit.row;
    }
    const raw = await this.reads.load({ model, id });
    return raw ? stored(raw) : undefined;
  }

  async findBy(model: string, column: 'uid' | 'userCode', value: string): Promise<StoredPayload | undefined> {
    const [raw] = await this.runner.query<RawStored>(this.findBySql[column], [model, value]);
    return raw ? stored(raw) : undefined;
  }

  async usage(model: string, id: string): Promise<{ expiresAt: Date | null; consumedAt: Date | null } | undefined> {
    const [raw] = await this.runner.query<{ expiresAt: unknown; consumedAt: unknown }>(this.usageSql, [model, id]);
    return raw ? { expiresAt: dateFromDb(raw.expiresAt), consumedAt: dateFromDb(raw.consumedAt) } : undefined;
  }

  /** Inserts the row unless one with its (model, id) exists; true when this call inserted it (atomic on both databases). */
  async insertIfAbsent(model: string, id: string, payload: string, expiresAt: Date): Promise<boolean> {
    return (await this.writing([rememberedKey(model, id)], () => this.runner.execute(this.insertIfAbsentSql, [model, id, payload, dateToDb(this.runner.dialect, expiresAt)]))) === 1;
  }

  /** Deletes the row if it expired at or before `now`; true when it did. */
  async deleteIfExpired(model: string, id: string, now: Date): Promise<boolean> {
    return (await this.writing([rememberedKey(model, id)], () => this.runner.execute(this.deleteIfExpiredSql, [model, id, dateToDb(this.runner.dialect, now)]))) > 0;
  }

  async consume(model: string, id: string, at: Date): Promise<void> {
    await this.writing([rememberedKey(model, id)], () => this.rows.update({ model, id }, { consumedAt: at }));
  }

  async delete(model: string, id: string): Promise<void> {
    await this.writing([rememberedKey(model, id)], () => this.rows.delete({ model, id }));
  }

  async deleteByGrant(model: string, grantId: string): Promise<void> {
    await this.writing(undefined, () => retryOnLockConflict(() => this.rows.delete({ model, grantId })));
  }

  async deleteGrantFamily(grantId: string, models: readonly string[]): Promise<void> {
    await this.writing(undefined, () => retryOnLockConflict(() => this.rows.delete({ grantId, model: In([...models]) })));
  }

  async deleteByClient(clientId: string): Promise<number> {
    const result = await this.writing(undefined, () => this.rows.delete({ clientId }));
    return result.affected ?? 0;
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.writing(undefined, () => this.rows.delete({ expiresAt: LessThan(now) }));
    return result.affected ?? 0;
  }

  /**
   * Runs a write of this table, dropping the remembered rows it may touch (those of `keys`, or all
   * of them) before it starts and again when it has settled; `writes` moves both times, so a read
   * whose statement ran in between is not remembered.
   */
  private async writing<T>(keys: readonly string[] | undefined, write: () => Promise<T>): Promise<T> {
    if (!this.remembered) return write();
    this.forget(keys);
    try {
      return await write();
    } finally {
      this.forget(keys);
    }
  }

  private forget(keys: readonly string[] | undefined): void {
    this.writes += 1;
    if (!keys) this.remembered!.clear();
    else for (const key of keys) this.remembered!.delete(key);
  }

  /**
   * `INSERT … VALUES (…), (…) ON CONFLICT / ON DUPLICATE KEY UPDATE`. A re-saved row (a session, a
   * grant, a consumed code upserted again) starts unconsumed. Rows of one statement are applied in
   * order, so a row saved twice in a batch ends as the later save.
   */
  private upsertStatement(count: number): Statement {
    const order: string[] = [];
    const values = Array.from({ length: count }, (_, index) => {
      const row: Record<string, unknown> = {};
      for (const column of WRITTEN) {
        order.push(`${index}.${column}`);
        row[column] = param(`${index}.${column}`);
      }
      row.consumedAt = sql`NULL`;
      return row as never;
    });
    const updated = [...WRITTEN.filter((column) => column !== 'model' && column !== 'id'), 'consumedAt'] as const;
    const insert = this.runner.builder.insertInto('oidc_payloads').values(values);
    const query = this.runner.dialect === 'sqlite'
      ? insert.onConflict((conflict) => conflict.columns(['model', 'id']).doUpdateSet(Object.fromEntries(updated.map((column) => [column, sql.ref(`excluded.${column}`)]))))
      : insert.onDuplicateKeyUpdate(Object.fromEntries(updated.map((column) => [column, sql`VALUES(${sql.ref(column)})`])));
    return compile(query, order);
  }

  /** `SELECT … WHERE id IN (…) AND model IN (…)`, one per (ids, models) count. */
  private readStatement(ids: number, models: number): Statement {
    const key = `${ids}x${models}`;
    let statement = this.readSql.get(key);
    if (statement) return statement;
    const idNames = Array.from({ length: ids }, (_, index) => `id${index}`);
    const modelNames = Array.from({ length: models }, (_, index) => `model${index}`);
    statement = compile(
      this.runner.builder.selectFrom('oidc_payloads').select([...SELECTED])
        .where('id', 'in', idNames.map(param))
        .where('model', 'in', modelNames.map(param)),
      [...idNames, ...modelNames],
    );
    this.readSql.set(key, statement);
    if (this.readSql.size > MAX_READ_STATEMENTS) this.readSql.delete(this.readSql.keys().next().value as string);
    return statement;
  }
}

function rememberedKey(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

function stored(raw: RawStored): StoredPayload {
  return { model: raw.model, id: raw.id, payload: raw.payload, expiresAt: dateFromDb(raw.expiresAt), consumedAt: dateFromDb(raw.consumedAt) };
}
