import { In, LessThan, type DataSource, type Repository } from 'typeorm';
import { OidcPayload } from '../db/entities/oidc_payload.js';
import { RawTable } from '../db/raw_table.js';
import { StatementsByCount } from '../db/statements_by_count.js';
import { SerialFlush } from '../lib/serial_flush.js';
import { RowBatcher } from '../db/row_batcher.js';
import type { Adapter, AdapterPayload } from './engine/index.js';
import { CLOCK_TOLERANCE } from './policy.js';
import type { RevocationRegistry } from './revocations.js';
import { CLEAR_ID_MODELS, type TokenIds } from './token_ids.js';
import { DERIVED_FROM_KIND } from './token_lineage.js';

/** Models whose rows belong to a grant and die with it (`revokeByGrantId`). */
const GRANT_BOUND = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode'];

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

function shortString(value: unknown, max = 64): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : null;
}

type LookupColumn = 'id' | 'uid' | 'userCode';

/** The payload without the engine's id (`jti`): stored under the id's keyed hash, it must not carry the id itself. */
function withoutId(payload: AdapterPayload): AdapterPayload {
  const { jti: _jti, ...rest } = payload;
  return rest;
}

interface StoredRow {
  model: string;
  id: string;
  payload: string;
  expiresAt: unknown;
  consumedAt: unknown;
}

interface Waiter {
  readonly model: string;
  /** The engine's id (put back into the payload) and the row's id (what the query looks for). */
  readonly id: string;
  readonly rowId: string;
  resolve(payload: AdapterPayload | undefined): void;
  reject(err: unknown): void;
}

/** Ids per batched read (each id with up to a handful of models). */
const MAX_BATCH_IDS = 100;
/** Rows per batched upsert (8 placeholders each). */
const MAX_UPSERT_ROWS = 100;

/**
 * The table behind every oidc-provider model (one row per model instance in `oidc_payloads`).
 * Upsert is TypeORM's dialect-aware `upsert` (ON CONFLICT / ON DUPLICATE KEY), so SQLite and MySQL
 * behave alike; expiry is honoured on read and expired rows are deleted by `deleteExpired`.
 *
 * Row ids are keyed hashes of the engine's ids (see CLEAR_ID_MODELS for the two exceptions), and
 * the payload is stored without its `jti`: every lookup by id hashes the id it is given and puts it
 * back into the payload it returns. Everything that reads these rows goes through here (`rowId`).
 */
export class PayloadStore {
  private readonly rows: Repository<OidcPayload>;
  private unusedSql: string | undefined;
  private readonly raw: RawTable<OidcPayload>;
  private readonly sql: { selectColumns: string; upsert: (rows: number) => string; findBy: Record<LookupColumn, string> };
  /** Reads by id waiting for the next batch (see `find`). */
  private pending: Waiter[] = [];
  /**
   * One batched read in flight at a time: reads asked while it is out wait for it and go out
   * together as the next one (never joining a query already sent, so they see every write committed
   * before they were asked). On MySQL each query's socket write cost more than the rest of an
   * opaque-token introspection (see RevocationRegistry.read, same pattern); this makes it one
   * write per round trip instead of one per request.
   */
  private readonly reads = new SerialFlush(() => this.flush(), () => this.pending.length > 0);
  /** Upserts of the same event-loop turn, sent as one statement (see `upsert`). */
  private readonly upserts: RowBatcher<unknown[], void>;
  /** The multi-row upsert statement per row count (1 to MAX_UPSERT_ROWS). */
  private readonly upsertSql: StatementsByCount;

  constructor(
    private readonly dataSource: DataSource,
    private readonly revocations: RevocationRegistry,
    /** How long a grant revocation must be remembered for JWT access tokens of that grant. */
    private readonly maxAccessTokenTtl: number,
    private readonly ids: TokenIds,
  ) {
    this.rows = dataSource.getRepository(OidcPayload);
    this.raw = new RawTable(dataSource, OidcPayload);
    this.sql = this.statements();
    this.upsertSql = new StatementsByCount(this.sql.upsert);
    this.upserts = new RowBatcher<unknown[], void>({
      writeMany: async (rows) => {
        await this.raw.query(this.upsertSql.for(rows.length), rows.flat());
        return rows.map(() => undefined);
      },
      writeOne: async (row) => { await this.raw.query(this.upsertSql.for(1), row); },
      maxRows: MAX_UPSERT_ROWS,
    });
  }

  adapterFor(model: string): Adapter {
    return new TypeormAdapter(model, this);
  }

  /**
   * Every engine write (tokens, sessions, grants, codes…): no read first, and the writes of one
   * event-loop turn go out as one multi-row upsert (a new API-key session saves its grant and its
   * refresh token in the same turn, and concurrent requests add theirs; see RowBatcher for the
   * measured cost per statement).
   */
  async upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const expiresAt = typeof expiresIn === 'number' ? new Date(Date.now() + (expiresIn + CLOCK_TOLERANCE) * 1000) : null;
    const hashed = !CLEAR_ID_MODELS.has(model);
    await this.upserts.add([
      model,
      hashed ? this.ids.hash(id) : id,
      JSON.stringify(hashed ? withoutId(payload) : payload),
      GRANT_BOUND.includes(model) ? shortString(payload.grantId) : null,
      model === 'Session' ? shortString(payload.uid) : null,
      shortString(payload.userCode),
      shortString(payload.clientId),
      this.raw.persist('expiresAt', expiresAt),
    ]);
  }

  /**
   * The payload of a model instance (unexpired). Reads by id are batched: the engine looks an
   * opaque token up as AccessToken, ClientCredentials and RefreshToken at once (introspection,
   * revocation, userinfo), and concurrent requests do the same, so the reads queued until the
   * current tick ends go to the database as one `id IN (…) AND model IN (…)` query instead of one
   * query each.
   */
  find(model: string, where: { id: string } | { uid: string } | { userCode: string }): Promise<AdapterPayload | undefined> {
    if ('id' in where) {
      return new Promise((resolve, reject) => {
        this.pending.push({ model, id: where.id, rowId: this.rowId(model, where.id), resolve, reject });
        this.reads.request();
      });
    }
    const [column, value] = 'uid' in where ? ['uid', where.uid] as const : ['userCode', where.userCode] as const;
    return this.raw.query<StoredRow>(this.sql.findBy[column], [model, value]).then((rows) => (rows[0] ? this.toPayload(rows[0]) : undefined));
  }


  private async flush(): Promise<void> {
    const waiters = this.pending;
    this.pending = [];
    for (let start = 0; start < waiters.length; start += MAX_BATCH_IDS * 4) {
      const chunk = waiters.slice(start, start + MAX_BATCH_IDS * 4);
      const ids = [...new Set(chunk.map((waiter) => waiter.rowId))];
      const models = [...new Set(chunk.map((waiter) => waiter.model))];
      try {
        const rows = await this.raw.query<StoredRow>(
          `SELECT ${this.sql.selectColumns} FROM ${this.raw.table} WHERE ${this.raw.column('id')} IN (${this.raw.placeholders(ids.length)}) AND ${this.raw.column('model')} IN (${this.raw.placeholders(models.length)})`,
          [...ids, ...models],
        );
        const found = new Map(rows.map((row) => [`${row.model}\u0000${row.id}`, row]));
        for (const waiter of chunk) {
          const row = found.get(`${waiter.model}\u0000${waiter.rowId}`);
          try {
            waiter.resolve(row ? this.toPayload(row, waiter.id) : undefined);
          } catch (err) {
            waiter.reject(err);
          }
        }
      } catch (err) {
        for (const waiter of chunk) waiter.reject(err);
      }
    }
  }

  /** The row id of an engine id: a keyed hash of it, except for CLEAR_ID_MODELS. */
  rowId(model: string, id: string): string {
    return CLEAR_ID_MODELS.has(model) ? id : this.ids.hash(id);
  }

  /** The stored payload, with the engine id put back (`id`: the one it was looked up by; rows found by uid keep theirs). */
  private toPayload(row: StoredRow, id?: string): AdapterPayload | undefined {
    const expiresAt = this.raw.hydrate('expiresAt', row.expiresAt);
    if (expiresAt && expiresAt.getTime() <= Date.now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (id !== undefined && !CLEAR_ID_MODELS.has(row.model)) payload.jti = id;
    const consumedAt = this.raw.hydrate('consumedAt', row.consumedAt);
    if (consumedAt) payload.consumed = Math.floor(consumedAt.getTime() / 1000);
    return payload;
  }

  /**
   * Whether a stored row (e.g. a refresh token) exists, has not expired and was not consumed: one
   * light read for hot paths that only need that answer (the API-key exchange asks it on every
   * repeat login).
   */
  async isUnused(model: string, id: string): Promise<boolean> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 191) return false;
    const quote = (name: string): string => this.dataSource.driver.escape(name);
    this.unusedSql ??= `SELECT ${quote('expiresAt')}, ${quote('consumedAt')} FROM ${quote('oidc_payloads')} WHERE ${quote('model')} = ? AND ${quote('id')} = ?`;
    const [row] = await this.raw.query<{ expiresAt: unknown; consumedAt: unknown }>(this.unusedSql, [model, this.rowId(model, id)]);
    if (!row || row.consumedAt !== null) return false;
    if (row.expiresAt === null) return true;
    const expiresAt = row.expiresAt instanceof Date ? row.expiresAt : new Date(`${String(row.expiresAt).replace(' ', 'T')}Z`);
    // The column carries the clock tolerance on top of the engine's own expiry.
    return expiresAt.getTime() - CLOCK_TOLERANCE * 1000 > Date.now();
  }

  /** The hot statements, written once for this database's dialect. */
  private statements(): PayloadStore['sql'] {
    const c = (property: keyof OidcPayload & string): string => this.raw.column(property);
    const selectColumns = (['model', 'id', 'payload', 'expiresAt', 'consumedAt'] as const).map(c).join(', ');
    const written = ['model', 'id', 'payload', 'grantId', 'uid', 'userCode', 'clientId', 'expiresAt', 'consumedAt'] as const;
    const updated = written.filter((property) => property !== 'model' && property !== 'id');
    // A re-saved row (a session, a grant, a consumed code upserted again) starts unconsumed, as before.
    // Rows of one statement are applied in order, so a row saved twice in a batch ends as the later save.
    const row = `(${this.raw.placeholders(written.length - 1)}, NULL)`;
    const onConflict = this.raw.isSqlite
      ? `ON CONFLICT (${c('model')}, ${c('id')}) DO UPDATE SET ${updated.map((p) => `${c(p)} = excluded.${c(p)}`).join(', ')}`
      : `ON DUPLICATE KEY UPDATE ${updated.map((p) => `${c(p)} = VALUES(${c(p)})`).join(', ')}`;
    const upsert = (rows: number): string => `INSERT INTO ${this.raw.table} (${written.map(c).join(', ')}) VALUES ${Array.from({ length: rows }, () => row).join(', ')} ${onConflict}`;
    const findBy = (column: LookupColumn): string => `SELECT ${selectColumns} FROM ${this.raw.table} WHERE ${c('model')} = ? AND ${c(column)} = ? LIMIT 1`;
    return { selectColumns, upsert, findBy: { id: findBy('id'), uid: findBy('uid'), userCode: findBy('userCode') } };
  }

  async consume(model: string, id: string): Promise<void> {
    await this.rows.update({ model, id: this.rowId(model, id) }, { consumedAt: new Date() });
  }

  async destroy(model: string, id: string): Promise<void> {
    const rowId = this.rowId(model, id);
    await this.rows.delete({ model, id: rowId });
    // The engine destroys an opaque access token only when it is revoked: tokens exchanged from it
    // go too (token_lineage.ts), as they do when a JWT is revoked (AccessTokenService.revoke). Their
    // lineage names it by the same keyed hash as its row id.
    if (model === 'AccessToken' || model === 'ClientCredentials') {
      await this.revocations.revoke({ kind: DERIVED_FROM_KIND, value: rowId }, this.registryHorizon());
    }
  }

  /** Registry rows about access tokens must outlive every access token they could match. */
  private registryHorizon(): Date {
    return new Date(Date.now() + (this.maxAccessTokenTtl + CLOCK_TOLERANCE) * 1000);
  }

  async revokeByGrantId(model: string, grantId: string): Promise<void> {
    // The engine revokes a grant through AccessToken first; JWT access tokens of the grant are not
    // rows here, so the registry remembers the revocation until they have all expired.
    if (model === 'AccessToken') {
      await this.revocations.revoke({ kind: 'grant', value: grantId }, this.registryHorizon());
    }
    await retryOnDeadlock(() => this.rows.delete({ model, grantId }));
  }

  /** A deleted client's tokens, codes and grants go with it. */
  async deleteByClient(clientId: string): Promise<number> {
    const result = await this.rows.delete({ clientId });
    return result.affected ?? 0;
  }

  /** The family of a grant, without the grant itself (the engine's behaviour when an access token is revoked). */
  async deleteGrantFamily(grantId: string): Promise<void> {
    await retryOnDeadlock(() => this.rows.delete({ grantId, model: In(GRANT_BOUND) }));
  }

  async deleteExpired(now = new Date()): Promise<number> {
    const result = await this.rows.delete({ expiresAt: LessThan(now) });
    return result.affected ?? 0;
  }
}

/** oidc-provider's adapter interface for one model, backed by the shared table. */
class TypeormAdapter implements Adapter {
  constructor(private readonly model: string, private readonly store: PayloadStore) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.store.upsert(this.model, id, payload, expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    // Anything longer cannot be ours (and would not fit the key); treat it as unknown, not an error.
    if (typeof id !== 'string' || id.length === 0 || id.length > 191) return undefined;
    return this.store.find(this.model, { id });
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (typeof uid !== 'string' || uid.length === 0 || uid.length > 64) return undefined;
    return this.store.find(this.model, { uid });
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    if (typeof userCode !== 'string' || userCode.length === 0 || userCode.length > 64) return undefined;
    return this.store.find(this.model, { userCode });
  }

  async consume(id: string): Promise<void> {
    await this.store.consume(this.model, id);
  }

  async destroy(id: string): Promise<void> {
    await this.store.destroy(this.model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.store.revokeByGrantId(this.model, grantId);
  }
}
