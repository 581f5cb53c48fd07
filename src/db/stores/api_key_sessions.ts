import { sql } from 'kysely';
import { LessThan, LessThanOrEqual, type DataSource, type Repository } from 'typeorm';
import { BatchLoader } from '../../lib/batch_loader.js';
import { NO_CURRENT_TOKEN, type CurrentToken, type InsertOutcome, type NewSession, type SessionStore } from '../../exchange/sessions.js';
import { ApiKeySession } from '../entities/api_key_session.js';
import { driverErrorCode } from '../driver_errors.js';
import { failedOnTheRows } from '../outage.js';
import { compile, param, SqlRunner, StatementsByCount, type Statement } from './sql.js';
import { dateFromDb, dateToDb, intFromDb, textFromDb } from './values.js';

const DUPLICATE_CODES = new Set(['ER_DUP_ENTRY', 'SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);

function isDuplicate(err: unknown): boolean {
  const code = driverErrorCode(err);
  return code !== undefined && DUPLICATE_CODES.has(code);
}

type Column = keyof ApiKeySession & string;

/** Every column, in the order the INSERT statements and `find` list them. */
const COLUMNS = [
  'id', 'keyId', 'agentId', 'sessionId', 'sessionHash', 'createdAt', 'expiresAt', 'version', 'claimedBy', 'claimedUntil',
  'tokenCipher', 'tokenJti', 'tokenIssuedAt', 'tokenExpiresAt', 'tokenFingerprint', 'clientId', 'scope', 'audience', 'grantId', 'refreshCipher',
] as const satisfies readonly Column[];
const TOKEN_COLUMNS = [
  'tokenCipher', 'tokenJti', 'tokenIssuedAt', 'tokenExpiresAt', 'tokenFingerprint', 'clientId', 'scope', 'audience', 'grantId', 'refreshCipher',
] as const satisfies ReadonlyArray<keyof CurrentToken & Column>;
const TOKEN_JTI_INDEX = TOKEN_COLUMNS.indexOf('tokenJti');
/**
 * The columns a new session's INSERT binds per row. The rest start alike in every new session (version
 * 0, claimed, no current token yet), so the statement writes them as constants: bound per row, they
 * made the derived table of the key-checked INSERT twice as wide, and MariaDB's CPU a batch of 8
 * ~15 % larger (docs/benchmarks.md).
 */
const INSERTED = ['id', 'keyId', 'agentId', 'sessionId', 'sessionHash', 'createdAt', 'expiresAt', 'claimedBy', 'claimedUntil'] as const satisfies readonly Column[];
/** What every new session holds in the columns the INSERT does not bind. */
const NEW_SESSION_CONSTANTS: Partial<Record<Column, 'zero' | 'null'>> = {
  version: 'zero',
  ...Object.fromEntries(Object.entries(NO_CURRENT_TOKEN).map(([column, value]) => {
    if (value !== null) throw new Error(`NO_CURRENT_TOKEN.${column} is not NULL: a new session's INSERT writes it as NULL`);
    return [column, 'null'];
  })),
};
for (const column of COLUMNS) {
  // A column added to COLUMNS must be bound or given its new-session value here, never left out silently.
  if (!(INSERTED as readonly Column[]).includes(column) && NEW_SESSION_CONSTANTS[column] === undefined) throw new Error(`api_key_sessions.${column}: neither bound nor constant in a new session's INSERT`);
}
/** The `datetime` columns (values.ts converts them); `version` is the one integer, the rest text. */
const DATE_COLUMNS = new Set<Column>(['createdAt', 'expiresAt', 'claimedUntil', 'tokenIssuedAt', 'tokenExpiresAt']);
/** Session rows per batched INSERT (10 placeholders each). */
const MAX_INSERT_ROWS = 50;
/** Completions per batched UPDATE (22 placeholders each). */
const MAX_COMPLETE_ROWS = 50;
/**
 * The event-loop turns a batched insert or completion collects sessions over (BatchLoader
 * `turns`): two, not one. Under load the logins that reach a write arrive in cohorts, one per
 * statement that answered in a turn; a second turn merges them, and on MariaDB fewer, larger
 * statements cost the server and the database about a fifth less CPU a new-session login
 * (docs/benchmarks.md, "Write batches over two turns"). An idle turn takes microseconds, so a
 * lone login waits no longer to speak of.
 */
const WRITE_BATCH_TURNS = 2;

interface NewRow {
  readonly id: string;
  /** The INSERT's values for this row: COLUMNS', then the instant its key is judged at (see insertStatement). */
  readonly values: readonly unknown[];
}

interface Completion {
  readonly id: string;
  readonly claimer: string;
  /** TOKEN_COLUMNS' values, converted for the database. */
  readonly values: readonly unknown[];
}

/**
 * `api_key_sessions`, for the exchange (the `SessionStore` of src/exchange/sessions.ts). Every change
 * that races is one conditional statement (atomic on SQLite and MySQL alike, so no transaction is
 * needed): the unique index decides who creates a session, a conditional UPDATE who mints its
 * next token.
 *
 * The statements every login runs are compiled once (through the query builder each cost more CPU
 * than the round trip itself: getQueryAndParameters and property-name rewriting were ~10 % of a
 * new-session login); inserts and completions of the same two event-loop turns share one
 * statement (WRITE_BATCH_TURNS).
 */
export class ApiKeySessionTable implements SessionStore {
  private readonly rows: Repository<ApiKeySession>;
  private readonly runner: SqlRunner;
  private readonly sql: { find: Statement; claim: Statement; complete: Statement; release: Statement; discardUnminted: Statement; replaceRefreshToken: Statement };
  /** The batched INSERT per row count (1 to MAX_INSERT_ROWS). */
  private readonly insertSql: StatementsByCount;
  /** The batched completion per row count (1 to MAX_COMPLETE_ROWS), see completeStatement. */
  private readonly completeSql: StatementsByCount;
  /** Id and stored jti of sessions by id: which rows of a batch landed, which completions were stored. */
  private readonly byIdsSql: StatementsByCount;
  /** New sessions of the same two event-loop turns, inserted by one statement (BatchLoader `per-turn`). */
  private readonly inserts: BatchLoader<NewRow, InsertOutcome>;
  /** Completed claims of the same two event-loop turns, stored by one statement. */
  private readonly completions: BatchLoader<Completion, boolean>;

  constructor(dataSource: DataSource) {
    this.rows = dataSource.getRepository(ApiKeySession);
    this.runner = new SqlRunner(dataSource);
    const db = this.runner.builder;
    const update = db.updateTable('api_key_sessions');
    const released = { claimedBy: sql<null>`NULL`, claimedUntil: sql<null>`NULL` };
    this.sql = {
      find: compile(db.selectFrom('api_key_sessions').select([...COLUMNS]).where('keyId', '=', param('keyId')).where('sessionHash', '=', param('sessionHash')), ['keyId', 'sessionHash']),
      // A claimer may renew its own claim (an insert it was told had failed may have landed).
      claim: compile(
        update.set({ claimedBy: param('claimer'), claimedUntil: param('claimUntil') })
          .where('id', '=', param('id')).where('version', '=', param('version'))
          .where((eb) => eb.or([eb('claimedUntil', 'is', null), eb('claimedUntil', '<=', param('now')), eb('claimedBy', '=', param('claimer2'))])),
        ['claimer', 'claimUntil', 'id', 'version', 'now', 'claimer2'],
      ),
      complete: compile(
        update.set({ ...Object.fromEntries(TOKEN_COLUMNS.map((column) => [column, param(column)])), version: sql`${sql.ref('version')} + 1`, ...released })
          .where('id', '=', param('id')).where('claimedBy', '=', param('claimer')),
        [...TOKEN_COLUMNS, 'id', 'claimer'],
      ),
      release: compile(update.set(released).where('id', '=', param('id')).where('claimedBy', '=', param('claimer')), ['id', 'claimer']),
      discardUnminted: compile(
        db.deleteFrom('api_key_sessions').where('id', '=', param('id')).where('claimedBy', '=', param('claimer')).where('tokenJti', 'is', null),
        ['id', 'claimer'],
      ),
      replaceRefreshToken: compile(update.set({ refreshCipher: param('refreshCipher') }).where('id', '=', param('id')).where('version', '=', param('version')), ['refreshCipher', 'id', 'version']),
    };
    this.insertSql = new StatementsByCount((count) => this.insertStatement(count));
    this.completeSql = new StatementsByCount((count) => this.completeStatement(count));
    this.byIdsSql = new StatementsByCount((count) => {
      const names = Array.from({ length: count }, (_, index) => `id${index}`);
      return compile(db.selectFrom('api_key_sessions').select(['id', 'tokenJti']).where('id', 'in', names.map(param)), names);
    });
    this.inserts = new BatchLoader<NewRow, InsertOutcome>({
      dispatch: 'per-turn',
      turns: WRITE_BATCH_TURNS,
      maxBatch: MAX_INSERT_ROWS,
      runBatch: async (rows) => {
        const inserted = await this.runner.execute(this.insertSql.for(rows.length), rows.flatMap((row) => row.values));
        if (inserted === rows.length) return rows.map(() => 'inserted');
        // A row whose key did not work was left out; every id is new, so the rows present are ours.
        const landed = new Set((await this.runner.query<{ id: string }>(this.byIdsSql.for(rows.length), rows.map((row) => row.id))).map((row) => row.id));
        return rows.map((row) => (landed.has(row.id) ? 'inserted' : 'key_refused'));
      },
      retryAlone: failedOnTheRows,
      runOne: async (row) => {
        try {
          return (await this.runner.execute(this.insertSql.for(1), row.values)) === 1 ? 'inserted' : 'key_refused';
        } catch (err) {
          if (isDuplicate(err)) return 'exists';
          throw err;
        }
      },
    });
    this.completions = new BatchLoader<Completion, boolean>({
      dispatch: 'per-turn',
      turns: WRITE_BATCH_TURNS,
      maxBatch: MAX_COMPLETE_ROWS,
      runBatch: async (rows) => {
        if (new Set(rows.map((row) => row.id)).size !== rows.length) throw new Error('one session twice in a batch');
        const parameters: unknown[] = [];
        for (let column = 0; column < TOKEN_COLUMNS.length; column += 1) {
          for (const row of rows) parameters.push(row.id, row.values[column]);
        }
        for (const row of rows) parameters.push(row.id, row.claimer);
        const affected = await this.runner.execute(this.completeSql.for(rows.length), parameters);
        if (affected === rows.length) return rows.map(() => true);
        // A claim in the batch was lost (it lapsed, or the session ended): the others were stored.
        // Which is which shows in the rows: a minted token's jti is unique, so a row that now holds
        // the jti this claimer wrote was stored by this statement.
        const stored = await this.runner.query<{ id: string; tokenJti: unknown }>(this.byIdsSql.for(rows.length), rows.map((row) => row.id));
        const jtis = new Map(stored.map((row) => [row.id, row.tokenJti]));
        return rows.map((row) => jtis.get(row.id) === row.values[TOKEN_JTI_INDEX]);
      },
      retryAlone: failedOnTheRows,
      runOne: async (row) => (await this.runner.execute(this.sql.complete, [...row.values, row.id, row.claimer])) === 1,
    });
  }

  /**
   * `UPDATE … SET col = CASE id WHEN ? THEN ? … END … WHERE (id = ? AND claimedBy = ?) OR …`: the
   * completions of several sessions in one statement, each still conditional on its own claim.
   */
  private completeStatement(count: number): Statement {
    const order: string[] = [];
    const set: Record<string, unknown> = {};
    for (const column of TOKEN_COLUMNS) {
      const whens = Array.from({ length: count }, (_, index) => {
        order.push(`${index}.id`, `${index}.${column}`);
        return sql`WHEN ${param(`${index}.id`)} THEN ${param(`${index}.${column}`)}`;
      });
      set[column] = sql`CASE ${sql.ref('id')} ${sql.join(whens, sql` `)} END`;
    }
    for (let index = 0; index < count; index += 1) order.push(`${index}.id`, `${index}.claimer`);
    return compile(
      this.runner.builder.updateTable('api_key_sessions')
        .set({ ...set, version: sql`${sql.ref('version')} + 1`, claimedBy: sql<null>`NULL`, claimedUntil: sql<null>`NULL` })
        .where((eb) => eb.or(Array.from({ length: count }, (_, index) => eb.and([eb('id', '=', param(`${index}.id`)), eb('claimedBy', '=', param(`${index}.claimer`))])))),
      order,
    );
  }

  /**
   * `INSERT INTO api_key_sessions (…) SELECT v.… FROM (SELECT ? AS id, … UNION ALL SELECT …) v JOIN
   * api_keys k … JOIN agents a … WHERE <k works at v.judgedAt>`: the new rows joined with their key, so
   * each lands only while the database holds its key as working, and is left out otherwise. "Works"
   * is `keyStateStatus` of src/exchange/key_states.ts in SQL (as the dashboard's key listings write
   * it): key and agent active, the key still the session's agent's, rotation grace and expiry (when
   * set) after the row's `now`. Only the columns that differ between new sessions are bound (INSERTED);
   * version and the token columns are constants in the outer SELECT. That is the read `KeyLiveness.assertCurrent` would make before the
   * mint; made here, a new session needs no statement of its own for it (on MySQL that batched read
   * cost ~12 % of a new-session login: docs/benchmarks.md). The rows come as one derived table rather
   * than one joined SELECT each, so the database plans one join per batch, not one per row.
   */
  private insertStatement(count: number): Statement {
    const db = this.runner.builder;
    const order: string[] = [];
    const rows = Array.from({ length: count }, (_, index) => {
      const name = (part: string): string => `${index}.${part}`;
      for (const column of INSERTED) order.push(name(column));
      order.push(name('now'));
      const values = INSERTED.map((column) => sql`${param(name(column))} AS ${sql.ref(column)}`);
      // On MySQL a derived column from a bound value is text; typed, the comparisons below are
      // datetime ones on every MySQL and MariaDB version (SQLite stores and compares datetimes as text).
      const judgedAt = this.runner.dialect === 'mysql' ? sql`CAST(${param(name('now'))} AS DATETIME(3))` : sql`${param(name('now'))}`;
      return sql`SELECT ${sql.join(values)}, ${judgedAt} AS ${sql.ref('judgedAt')}`;
    });
    const column = (table: string, name: string) => sql.ref(`${table}.${name}`);
    const statement = sql`INSERT INTO ${sql.table('api_key_sessions')} (${sql.join(COLUMNS.map((name) => sql.ref(name)))})
      SELECT ${sql.join(COLUMNS.map((name) => {
        const constant = NEW_SESSION_CONSTANTS[name];
        return constant === 'zero' ? sql`0` : constant === 'null' ? sql`NULL` : column('v', name);
      }))}
      FROM (${sql.join(rows, sql` UNION ALL `)}) AS ${sql.ref('v')}
      INNER JOIN ${sql.table('api_keys')} AS ${sql.ref('k')} ON ${column('k', 'id')} = ${column('v', 'keyId')} AND ${column('k', 'agentId')} = ${column('v', 'agentId')}
      INNER JOIN ${sql.table('agents')} AS ${sql.ref('a')} ON ${column('a', 'id')} = ${column('k', 'agentId')}
      WHERE ${column('k', 'status')} = 'active' AND ${column('a', 'status')} = 'active'
        AND (${column('k', 'graceUntil')} IS NULL OR ${column('k', 'graceUntil')} > ${column('v', 'judgedAt')})
        AND (${column('k', 'expiresAt')} IS NULL OR ${column('k', 'expiresAt')} > ${column('v', 'judgedAt')})`;
    return compile({ compile: () => statement.compile(db) }, order);
  }

  /** A column's value as the database stores it. */
  private toDb(column: Column, value: unknown): unknown {
    if (value === null || value === undefined) return null;
    return DATE_COLUMNS.has(column) ? dateToDb(this.runner.dialect, value as Date) : value;
  }


  async find(keyId: string, hash: string): Promise<ApiKeySession | null> {
    const [raw] = await this.runner.query(this.sql.find, [keyId, hash]);
    if (!raw) return null;
    const row = new ApiKeySession();
    const record = row as unknown as Record<string, unknown>;
    for (const column of COLUMNS) {
      const value = raw[column];
      record[column] = DATE_COLUMNS.has(column) ? dateFromDb(value) : column === 'version' ? intFromDb(value) : textFromDb(value);
    }
    return row;
  }

  async findById(id: string): Promise<ApiKeySession | null> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 40) return null;
    return this.rows.findOneBy({ id });
  }

  get failedWritesMayLand(): boolean {
    return this.runner.dialect !== 'sqlite';
  }

  get readsWithinTurn(): boolean {
    return this.runner.dialect === 'sqlite';
  }

  async insertClaimed(session: NewSession, claimer: string, claimUntil: Date, now: Date): Promise<InsertOutcome> {
    const at = this.toDb('claimedUntil', now);
    const row: Pick<ApiKeySession, (typeof INSERTED)[number]> = { ...session, claimedBy: claimer, claimedUntil: claimUntil };
    return this.inserts.load({ id: session.id, values: [...INSERTED.map((column) => this.toDb(column, row[column])), at] });
  }

  async claim(id: string, version: number, claimer: string, now: Date, claimUntil: Date): Promise<boolean> {
    return (await this.runner.execute(this.sql.claim, [claimer, this.toDb('claimedUntil', claimUntil), id, version, this.toDb('claimedUntil', now), claimer])) === 1;
  }

  async complete(id: string, claimer: string, token: CurrentToken): Promise<boolean> {
    return this.completions.load({ id, claimer, values: TOKEN_COLUMNS.map((column) => this.toDb(column, token[column])) });
  }

  async releaseClaim(id: string, claimer: string): Promise<boolean> {
    return (await this.runner.execute(this.sql.release, [id, claimer])) === 1;
  }

  async discardUnminted(id: string, claimer: string): Promise<boolean> {
    return (await this.runner.execute(this.sql.discardUnminted, [id, claimer])) === 1;
  }

  async replaceRefreshToken(id: string, version: number, refreshCipher: string): Promise<void> {
    await this.runner.execute(this.sql.replaceRefreshToken, [refreshCipher, id, version]);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.rows.delete({ id });
    return (result.affected ?? 0) > 0;
  }

  async deleteIfExpired(id: string, now: Date): Promise<void> {
    await this.rows.delete({ id, expiresAt: LessThanOrEqual(now) });
  }

  async list(filter: { keyId?: string; agentId?: string }, limit: number): Promise<ApiKeySession[]> {
    return this.rows.find({
      where: filter.keyId !== undefined ? { keyId: filter.keyId } : { agentId: filter.agentId },
      order: { createdAt: 'DESC', id: 'ASC' },
      take: limit,
    });
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.rows.delete({ expiresAt: LessThan(now) });
    return result.affected ?? 0;
  }
}
