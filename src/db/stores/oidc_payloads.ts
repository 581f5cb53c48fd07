import { sql } from 'kysely';
import { In, LessThan, type DataSource, type Repository } from 'typeorm';
import { BatchLoader } from '../../lib/batch_loader.js';
import type { PayloadRow, PayloadRows, StoredPayload } from '../../oidc/adapter.js';
import { OidcPayload } from '../entities/oidc_payload.js';
import { compile, param, SqlRunner, StatementsByCount, type Statement } from './sql.js';
import { dateFromDb, dateToDb } from './values.js';

/** Reads by id per batch (each a model and a row id; the engine asks up to a handful of models per id). */
const MAX_BATCH_READS = 400;
/** Rows per batched upsert (8 placeholders each). */
const MAX_UPSERT_ROWS = 100;
/** `id IN (…) AND model IN (…)` statements kept, by (ids, models) count; FIFO beyond this. */
const MAX_READ_STATEMENTS = 256;

const DEADLOCK_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'SQLITE_BUSY']);

/** MySQL may pick a revoke-by-grant DELETE as a deadlock victim when several run at once; one retry settles it. */
async function retryOnDeadlock<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    const code = (err as { driverError?: { code?: string }; code?: string }).driverError?.code ?? (err as { code?: string }).code;
    if (!code || !DEADLOCK_CODES.has(code)) throw err;
    return operation();
  }
}

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
  /** Upserts of the same event-loop turn, sent as one statement (see BatchLoader `per-turn`). */
  private readonly upserts: BatchLoader<unknown[], void>;
  /** Reads by id: one `id IN (…) AND model IN (…)` query in flight at a time (see BatchLoader `serial`). */
  private readonly reads: BatchLoader<{ readonly model: string; readonly id: string }, RawStored | undefined>;

  constructor(dataSource: DataSource) {
    this.rows = dataSource.getRepository(OidcPayload);
    this.runner = new SqlRunner(dataSource);
    this.upsertSql = new StatementsByCount((count) => this.upsertStatement(count));
    const db = this.runner.builder;
    const findBy = (column: 'uid' | 'userCode'): Statement => compile(
      db.selectFrom('oidc_payloads').select([...SELECTED]).where('model', '=', param('model')).where(column, '=', param('value')).limit(sql.lit(1)),
      ['model', 'value'],
    );
    this.findBySql = { uid: findBy('uid'), userCode: findBy('userCode') };
    this.usageSql = compile(db.selectFrom('oidc_payloads').select(['expiresAt', 'consumedAt']).where('model', '=', param('model')).where('id', '=', param('id')), ['model', 'id']);
    this.upserts = new BatchLoader<unknown[], void>({
      dispatch: 'per-turn',
      maxBatch: MAX_UPSERT_ROWS,
      runBatch: async (rows) => {
        await this.runner.execute(this.upsertSql.for(rows.length), rows.flat());
        return rows.map(() => undefined);
      },
      runOne: async (row) => { await this.runner.execute(this.upsertSql.for(1), row); },
    });
    this.reads = new BatchLoader({
      dispatch: 'serial',
      maxBatch: MAX_BATCH_READS,
      runBatch: async (reads) => {
        const ids = [...new Set(reads.map((read) => read.id))];
        const models = [...new Set(reads.map((read) => read.model))];
        const rows = await this.runner.query<RawStored>(this.readStatement(ids.length, models.length), [...ids, ...models]);
        const found = new Map(rows.map((row) => [`${row.model}\u0000${row.id}`, row]));
        return reads.map((read) => found.get(`${read.model}\u0000${read.id}`));
      },
    });
  }

  async upsert(row: PayloadRow): Promise<void> {
    const dialect = this.runner.dialect;
    await this.upserts.load([row.model, row.id, row.payload, row.grantId, row.uid, row.userCode, row.clientId, dateToDb(dialect, row.expiresAt)]);
  }

  async findById(model: string, id: string): Promise<StoredPayload | undefined> {
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

  async consume(model: string, id: string, at: Date): Promise<void> {
    await this.rows.update({ model, id }, { consumedAt: at });
  }

  async delete(model: string, id: string): Promise<void> {
    await this.rows.delete({ model, id });
  }

  async deleteByGrant(model: string, grantId: string): Promise<void> {
    await retryOnDeadlock(() => this.rows.delete({ model, grantId }));
  }

  async deleteGrantFamily(grantId: string, models: readonly string[]): Promise<void> {
    await retryOnDeadlock(() => this.rows.delete({ grantId, model: In([...models]) }));
  }

  async deleteByClient(clientId: string): Promise<number> {
    const result = await this.rows.delete({ clientId });
    return result.affected ?? 0;
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.rows.delete({ expiresAt: LessThan(now) });
    return result.affected ?? 0;
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

function stored(raw: RawStored): StoredPayload {
  return { model: raw.model, id: raw.id, payload: raw.payload, expiresAt: dateFromDb(raw.expiresAt), consumedAt: dateFromDb(raw.consumedAt) };
}
