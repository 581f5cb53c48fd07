import { expect } from 'chai';
import { sql } from 'kysely';
import { QueryFailedError, type DataSource } from 'typeorm';
import { DateUtils } from 'typeorm/util/DateUtils.js';
import { parseDatabaseUrl } from '../../src/config/database_url.js';
import { createDataSource } from '../../src/db/data_source.js';
import { builderFor, compile, param, SqlRunner, StatementsByCount } from '../../src/db/stores/sql.js';
import { dateFromDb, dateToDb, intFromDb, jsonFromDb } from '../../src/db/stores/values.js';
import { createScratchDatabase, onMysql, type ScratchDatabase } from '../support/database.js';

describe('stores: value conversion (src/db/stores/values.ts)', () => {
  const instants = [new Date('2026-12-03T01:02:03.004Z'), new Date('1999-01-31T23:59:59.999Z'), new Date(0), new Date('2030-06-15T12:00:00.000Z')];

  it('writes dates on SQLite exactly as TypeORM does (they are compared as text in SQL)', () => {
    for (const instant of instants) expect(dateToDb('sqlite', instant)).to.equal(DateUtils.mixedDateToUtcDatetimeString(instant));
  });

  it('hands Dates to mysql2 as they are (the DataSource writes them in UTC)', () => {
    expect(dateToDb('mysql', instants[0])).to.equal(instants[0]);
    expect(dateToDb('mysql', null)).to.equal(null);
    expect(dateToDb('sqlite', undefined)).to.equal(null);
  });

  it('reads back what it wrote, and SQLite text without milliseconds, T or Z as UTC', () => {
    for (const instant of instants) expect(dateFromDb(dateToDb('sqlite', instant))!.getTime()).to.equal(instant.getTime());
    expect(dateFromDb('2026-12-03 01:02:03')!.toISOString()).to.equal('2026-12-03T01:02:03.000Z');
    expect(dateFromDb('2026-12-03T01:02:03.500Z')!.toISOString()).to.equal('2026-12-03T01:02:03.500Z');
    expect(dateFromDb(instants[1])).to.equal(instants[1]);
    expect(dateFromDb(null)).to.equal(null);
  });

  it('parses JSON and integers, and keeps null', () => {
    expect(jsonFromDb('["10.0.0.0/8"]')).to.deep.equal(['10.0.0.0/8']);
    expect(jsonFromDb(['already'])).to.deep.equal(['already']);
    expect(jsonFromDb(null)).to.equal(null);
    expect(intFromDb('42')).to.equal(42);
    expect(intFromDb(7)).to.equal(7);
    expect(intFromDb(null)).to.equal(null);
  });
});

describe('stores: statements compiled once (src/db/stores/sql.ts)', () => {
  it('quotes for each dialect and keeps the placeholders where the caller binds them', () => {
    const build = (dialect: 'sqlite' | 'mysql') => compile(
      builderFor(dialect).selectFrom('token_revocations').select(['kind', 'value']).where('value', '=', param('value')).where('kind', '=', param('kind')).limit(sql.lit(1)),
      ['value', 'kind'],
    ).sql;
    expect(build('sqlite')).to.equal('select "kind", "value" from "token_revocations" where "value" = ? and "kind" = ? limit 1');
    expect(build('mysql')).to.equal('select `kind`, `value` from `token_revocations` where `value` = ? and `kind` = ? limit 1');
  });

  it('refuses a statement whose parameters are not in the order the caller binds them', () => {
    const query = builderFor('sqlite').selectFrom('token_revocations').select('kind').where('value', '=', param('value')).where('kind', '=', param('kind'));
    expect(() => compile(query, ['kind', 'value'])).to.throw(/expected \[kind, value\]/);
    expect(() => compile(query, ['value'])).to.throw(/statement parameters/);
  });

  it('refuses a literal value compiled into a parameter the caller would not pass', () => {
    const query = builderFor('sqlite').selectFrom('token_revocations').select('kind').where('value', '=', 'literal');
    expect(() => compile(query, [])).to.throw(/statement parameters/);
  });

  it('builds a statement once per count', () => {
    let built = 0;
    const statements = new StatementsByCount((count) => { built += 1; return { sql: `IN (${count})` }; });
    expect(statements.for(3).sql).to.equal('IN (3)');
    expect(statements.for(3)).to.equal(statements.for(3));
    statements.for(4);
    expect(built).to.equal(2);
  });

  describe(`SqlRunner on ${onMysql ? 'MySQL' : 'SQLite'}`, () => {
    let dataSource: DataSource;
    let scratch: ScratchDatabase | undefined;
    before(async () => {
      if (onMysql) {
        scratch = await createScratchDatabase({ schema: 'empty' });
        dataSource = createDataSource(parseDatabaseUrl(scratch.url, process.cwd()));
      } else {
        dataSource = createDataSource({ type: 'sqlite', path: ':memory:' });
      }
      await dataSource.initialize();
      await dataSource.query('CREATE TABLE t (id VARCHAR(16) PRIMARY KEY, v VARCHAR(16))');
    });
    after(async () => {
      await dataSource.destroy();
      await scratch?.drop();
    });

    it('runs reads and writes, counting changed rows (rows matched: mysql2 connects with FOUND_ROWS)', async () => {
      const runner = new SqlRunner(dataSource);
      expect(runner.dialect).to.equal(onMysql ? 'mysql' : 'sqlite');
      expect(await runner.execute({ sql: 'INSERT INTO t (id, v) VALUES (?, ?), (?, ?)' }, ['a', 'x', 'b', 'y'])).to.equal(2);
      expect(await runner.query({ sql: 'SELECT id, v FROM t WHERE id IN (?, ?) ORDER BY id' }, ['a', 'b'])).to.deep.equal([{ id: 'a', v: 'x' }, { id: 'b', v: 'y' }]);
      expect(await runner.execute({ sql: 'UPDATE t SET v = ? WHERE id = ?' }, ['z', 'missing'])).to.equal(0);
      expect(await runner.execute({ sql: 'UPDATE t SET v = ? WHERE id = ?' }, ['y', 'b'])).to.equal(1);
      // What TypeORM's own queries see is the same handle.
      expect(await dataSource.query('SELECT v FROM t WHERE id = ?', ['a'])).to.deep.equal([{ v: 'x' }]);
    });

    it('fails as TypeORM would: a QueryFailedError carrying the driver error and its code', async () => {
      const runner = new SqlRunner(dataSource);
      const err = await runner.execute({ sql: 'INSERT INTO t (id, v) VALUES (?, ?)' }, ['a', 'again']).then(() => undefined, (failure: unknown) => failure);
      expect(err).to.be.instanceOf(QueryFailedError);
      expect((err as QueryFailedError & { driverError: { code: string } }).driverError.code).to.match(/^(SQLITE_CONSTRAINT|ER_DUP_ENTRY)/);
      const syntax = await runner.query({ sql: 'SELEC nonsense' }, []).then(() => undefined, (failure: unknown) => failure);
      expect(syntax).to.be.instanceOf(QueryFailedError);
    });
  });
});
