import { LessThan, type DataSource, type EntityMetadata, type Repository } from 'typeorm';
import { ApiKeySession } from '../db/entities/api_key_session.js';
import { RawTable } from '../db/raw_table.js';
import { StatementsByCount } from '../db/statements_by_count.js';
import { RowBatcher } from '../db/row_batcher.js';

/** The facts of a newly minted current token, written when a claim completes. */
export interface CurrentToken {
  tokenCipher: string;
  tokenJti: string;
  tokenIssuedAt: Date;
  tokenExpiresAt: Date;
  tokenFingerprint: string;
  clientId: string;
  scope: string;
  audience: string;
  grantId: string | null;
  refreshCipher: string | null;
}

export interface NewSession {
  id: string;
  keyId: string;
  agentId: string;
  sessionId: string;
  sessionHash: string;
  createdAt: Date;
  expiresAt: Date;
}

const DUPLICATE_CODES = new Set(['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);

function isDuplicate(err: unknown): boolean {
  const driverError = (err as { driverError?: { code?: string } }).driverError;
  const code = driverError?.code ?? (err as { code?: string }).code;
  return typeof code === 'string' && DUPLICATE_CODES.has(code);
}

/**
 * The `api_key_sessions` table. Every change that races is one conditional statement (atomic on
 * SQLite and MySQL alike, so no transaction is needed): the unique index decides who creates a
 * session, a conditional UPDATE decides who mints its next token.
 */
/** The token columns of a session that has not minted (or no longer has) a current token. */
export const NO_CURRENT_TOKEN = Object.freeze({
  tokenCipher: null,
  tokenJti: null,
  tokenIssuedAt: null,
  tokenExpiresAt: null,
  tokenFingerprint: null,
  clientId: null,
  scope: null,
  audience: null,
  grantId: null,
  refreshCipher: null,
});

type Column = keyof ApiKeySession & string;

/** Every column, in the order the INSERT statements list them. */
const COLUMNS: readonly Column[] = [
  'id', 'keyId', 'agentId', 'sessionId', 'sessionHash', 'createdAt', 'expiresAt', 'version', 'claimedBy', 'claimedUntil',
  'tokenCipher', 'tokenJti', 'tokenIssuedAt', 'tokenExpiresAt', 'tokenFingerprint', 'clientId', 'scope', 'audience', 'grantId', 'refreshCipher',
];
const TOKEN_COLUMNS: ReadonlyArray<keyof CurrentToken & Column> = [
  'tokenCipher', 'tokenJti', 'tokenIssuedAt', 'tokenExpiresAt', 'tokenFingerprint', 'clientId', 'scope', 'audience', 'grantId', 'refreshCipher',
];
const TOKEN_JTI_INDEX = TOKEN_COLUMNS.indexOf('tokenJti');
/** Session rows per batched INSERT (20 placeholders each). */
const MAX_INSERT_ROWS = 50;
/** Completions per batched UPDATE (22 placeholders each). */
const MAX_COMPLETE_ROWS = 50;

interface Completion {
  readonly id: string;
  readonly claimer: string;
  /** TOKEN_COLUMNS' values, persisted. */
  readonly values: readonly unknown[];
}

export class SessionStore {
  private readonly rows: Repository<ApiKeySession>;
  private readonly metadata: EntityMetadata;
  private readonly raw: RawTable<ApiKeySession>;
  private readonly findSql: string;
  /**
   * The statements every login runs, written once as plain parameterised SQL: through the query
   * builder each cost more CPU than the round trip itself (getQueryAndParameters and property-name
   * rewriting were ~10 % of a new-session login).
   */
  private readonly sql: { claim: string; complete: string; release: string; discardUnminted: string; replaceRefreshToken: string };
  /** The batched INSERT per row count (1 to MAX_INSERT_ROWS). */
  private readonly insertSql: StatementsByCount;
  /** The batched completion per row count (1 to MAX_COMPLETE_ROWS), see completeStatement. */
  private readonly completeSql: StatementsByCount;
  /** New sessions of the same event-loop turn, inserted by one statement (see RowBatcher). */
  private readonly inserts: RowBatcher<unknown[], boolean>;
  /** Completed claims of the same event-loop turn, stored by one statement. */
  private readonly completions: RowBatcher<Completion, boolean>;

  constructor(private readonly dataSource: DataSource) {
    this.rows = dataSource.getRepository(ApiKeySession);
    this.metadata = dataSource.getMetadata(ApiKeySession);
    this.raw = new RawTable(dataSource, ApiKeySession);
    const quote = (name: string): string => dataSource.driver.escape(name);
    this.findSql = `SELECT ${this.metadata.columns.map((column) => quote(column.databaseName)).join(', ')} FROM ${quote(this.metadata.tableName)} WHERE ${quote('keyId')} = ? AND ${quote('sessionHash')} = ?`;
    const c = (property: Column): string => this.raw.column(property);
    const update = `UPDATE ${this.raw.table} SET`;
    this.sql = {
      // A claimer may renew its own claim (an insert it was told had failed may have landed).
      claim: `${update} ${c('claimedBy')} = ?, ${c('claimedUntil')} = ? WHERE ${c('id')} = ? AND ${c('version')} = ? AND (${c('claimedUntil')} IS NULL OR ${c('claimedUntil')} <= ? OR ${c('claimedBy')} = ?)`,
      complete: `${update} ${TOKEN_COLUMNS.map((p) => `${c(p)} = ?`).join(', ')}, ${c('version')} = ${c('version')} + 1, ${c('claimedBy')} = NULL, ${c('claimedUntil')} = NULL WHERE ${c('id')} = ? AND ${c('claimedBy')} = ?`,
      release: `${update} ${c('claimedBy')} = NULL, ${c('claimedUntil')} = NULL WHERE ${c('id')} = ? AND ${c('claimedBy')} = ?`,
      discardUnminted: `DELETE FROM ${this.raw.table} WHERE ${c('id')} = ? AND ${c('claimedBy')} = ? AND ${c('tokenJti')} IS NULL`,
      replaceRefreshToken: `${update} ${c('refreshCipher')} = ? WHERE ${c('id')} = ? AND ${c('version')} = ?`,
    };
    this.insertSql = new StatementsByCount((rows) => this.insertStatement(rows));
    this.completeSql = new StatementsByCount((rows) => this.completeStatement(rows));
    this.inserts = new RowBatcher<unknown[], boolean>({
      writeMany: async (rows) => {
        await this.raw.execute(this.insertSql.for(rows.length), rows.flat());
        return rows.map(() => true);
      },
      writeOne: async (row) => {
        try {
          await this.raw.execute(this.insertSql.for(1), row);
          return true;
        } catch (err) {
          if (isDuplicate(err)) return false;
          throw err;
        }
      },
      maxRows: MAX_INSERT_ROWS,
    });
    this.completions = new RowBatcher<Completion, boolean>({
      writeMany: async (rows) => {
        if (new Set(rows.map((row) => row.id)).size !== rows.length) throw new Error('one session twice in a batch');
        const parameters: unknown[] = [];
        for (let column = 0; column < TOKEN_COLUMNS.length; column += 1) {
          for (const row of rows) parameters.push(row.id, row.values[column]);
        }
        for (const row of rows) parameters.push(row.id, row.claimer);
        const affected = await this.raw.execute(this.completeSql.for(rows.length), parameters);
        if (affected === rows.length) return rows.map(() => true);
        // A claim in the batch was lost (it lapsed, or the session ended): the others were stored.
        // Which is which shows in the rows: a minted token's jti is unique, so a row that now holds
        // the jti this claimer wrote was stored by this statement.
        const ids = rows.map((row) => row.id);
        const stored = await this.raw.query<{ id: string; tokenJti: unknown }>(
          `SELECT ${this.raw.column('id')} AS ${this.raw.column('id')}, ${this.raw.column('tokenJti')} AS ${this.raw.column('tokenJti')} FROM ${this.raw.table} WHERE ${this.raw.column('id')} IN (${this.raw.placeholders(ids.length)})`,
          ids,
        );
        const jtis = new Map(stored.map((row) => [row.id, row.tokenJti]));
        return rows.map((row) => jtis.get(row.id) === row.values[TOKEN_JTI_INDEX]);
      },
      writeOne: async (row) => (await this.raw.execute(this.sql.complete, [...row.values, row.id, row.claimer])) === 1,
      maxRows: MAX_COMPLETE_ROWS,
    });
  }

  /**
   * `UPDATE … SET col = CASE id WHEN ? THEN ? … END … WHERE (id = ? AND claimedBy = ?) OR …`: the
   * completions of several sessions in one statement, each still conditional on its own claim.
   */
  private completeStatement(rows: number): string {
    const c = (property: Column): string => this.raw.column(property);
    const whens = Array.from({ length: rows }, () => 'WHEN ? THEN ?').join(' ');
    const set = TOKEN_COLUMNS.map((property) => `${c(property)} = CASE ${c('id')} ${whens} END`).join(', ');
    const where = Array.from({ length: rows }, () => `(${c('id')} = ? AND ${c('claimedBy')} = ?)`).join(' OR ');
    return `UPDATE ${this.raw.table} SET ${set}, ${c('version')} = ${c('version')} + 1, ${c('claimedBy')} = NULL, ${c('claimedUntil')} = NULL WHERE ${where}`;
  }

  private insertStatement(rows: number): string {
    const row = `(${this.raw.placeholders(COLUMNS.length)})`;
    return `INSERT INTO ${this.raw.table} (${COLUMNS.map((p) => this.raw.column(p)).join(', ')}) VALUES ${Array.from({ length: rows }, () => row).join(', ')}`;
  }

  private persisted(row: ApiKeySession): unknown[] {
    return COLUMNS.map((property) => this.raw.persist(property, row[property]));
  }

  /**
   * The session of (key, session hash). Every exchange starts with this read, so it is one plain
   * parameterised query hydrated with TypeORM's own per-column conversion (the query builder costs
   * several times the query itself on this path).
   */
  async find(keyId: string, hash: string): Promise<ApiKeySession | null> {
    const found = await this.raw.query(this.findSql, [keyId, hash]);
    const raw = found[0];
    if (!raw) return null;
    const row = new ApiKeySession();
    const { driver } = this.dataSource;
    for (const column of this.metadata.columns) {
      (row as unknown as Record<string, unknown>)[column.propertyName] = driver.prepareHydratedValue(raw[column.databaseName], column);
    }
    return row;
  }

  async findById(id: string): Promise<ApiKeySession | null> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 40) return null;
    return this.rows.findOneBy({ id });
  }

  /**
   * Creates the session already claimed by `claimer`; false when another request created it first
   * (the unique (key, session) index decides, also when the insert shares a statement with other
   * new sessions: a duplicate fails the whole statement, and each row is then retried alone).
   */
  /**
   * Whether a write that failed may still have landed: on MySQL a statement whose connection died
   * or timed out may have been applied (or still be, by a stalled server); SQLite's writes are
   * synchronous and atomic, so a failed one did nothing.
   */
  get failedWritesMayLand(): boolean {
    return !this.raw.isSqlite;
  }

  async insertClaimed(session: NewSession, claimer: string, claimUntil: Date): Promise<boolean> {
    return this.inserts.add(this.persisted({
      ...session,
      version: 0,
      claimedBy: claimer,
      claimedUntil: claimUntil,
      ...NO_CURRENT_TOKEN,
    }));
  }

  /**
   * Claims the right to mint the session's next token: succeeds only if nobody changed the session
   * since it was read at `version` and no other claim is running (or the other one lapsed).
   */
  async claim(id: string, version: number, claimer: string, now: Date, claimUntil: Date): Promise<boolean> {
    const p = (property: Column, value: unknown): unknown => this.raw.persist(property, value);
    return (await this.raw.execute(this.sql.claim, [claimer, p('claimedUntil', claimUntil), id, version, p('claimedUntil', now), claimer])) === 1;
  }

  /**
   * Stores the token the claimer minted and releases the claim; false when the claim was lost
   * meanwhile. Completions of the same event-loop turn share one statement (see RowBatcher).
   */
  async complete(id: string, claimer: string, token: CurrentToken): Promise<boolean> {
    return this.completions.add({ id, claimer, values: TOKEN_COLUMNS.map((property) => this.raw.persist(property, token[property])) });
  }

  /** Gives up a claim; false when the row is no longer claimed by `claimer`. */
  async releaseClaim(id: string, claimer: string): Promise<boolean> {
    return (await this.raw.execute(this.sql.release, [id, claimer])) === 1;
  }

  /** Deletes a session `claimer` created and never stored a token in; false when there is no such row. */
  async discardUnminted(id: string, claimer: string): Promise<boolean> {
    return (await this.raw.execute(this.sql.discardUnminted, [id, claimer])) === 1;
  }

  /** Replaces the refresh token handed out with the current token (the previous one was used). */
  async replaceRefreshToken(id: string, version: number, refreshCipher: string): Promise<void> {
    await this.raw.execute(this.sql.replaceRefreshToken, [refreshCipher, id, version]);
  }

  /** Deletes a session; false when it was already gone. */
  async delete(id: string): Promise<boolean> {
    const result = await this.rows.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /** Deletes a session that is past its end (so a new one can take its place). */
  async deleteIfExpired(id: string, now: Date): Promise<void> {
    await this.rows.delete({ id, expiresAt: LessThan(now) });
  }

  async list(filter: { keyId?: string; agentId?: string }, limit: number): Promise<ApiKeySession[]> {
    return this.rows.find({
      where: filter.keyId !== undefined ? { keyId: filter.keyId } : { agentId: filter.agentId },
      order: { createdAt: 'DESC', id: 'ASC' },
      take: limit,
    });
  }

  async deleteExpired(now = new Date()): Promise<number> {
    const result = await this.rows.delete({ expiresAt: LessThan(now) });
    return result.affected ?? 0;
  }
}
