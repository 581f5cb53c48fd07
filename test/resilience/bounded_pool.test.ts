import { expect } from 'chai';
import mysql from 'mysql2';
import { boundPool, type BoundablePool, type BoundableConnection } from '../../src/db/bounded_pool.js';
import { onMysql, TEST_DATABASE_URL } from '../support/database.js';
import { behindProxy, type FaultProxy } from '../support/fault_proxy.js';
import { memoryLogger, sleep } from '../ratelimit/support.js';

const QUERY_TIMEOUT_MS = 300;
/**
 * The reset test's statement timeout: long enough that the reset 50 ms after the statements start
 * reaches them first even on a loaded machine (at 300 ms, with CI's three suites running side by
 * side, the timers once fired before the reset did: PROTOCOL_SEQUENCE_TIMEOUT, not ECONNRESET).
 */
const RESET_QUERY_TIMEOUT_MS = 1500;

/**
 * The bounds `boundPool` puts on mysql2's pool, against a real MariaDB behind the fault proxy.
 * Here: a connection reset under a running statement answers that statement exactly once. mysql2
 * itself calls back a second time with "Query inactivity timeout" when the statement's timer runs
 * out later; counted as a failure, a burst of those re-opened the database circuit well after the
 * database was back (the "connections reset every 200 ms" fault scenario missed its 1 s recovery).
 */
(onMysql ? describe : describe.skip)('resilience: the bounded MySQL pool', () => {
  let proxy: FaultProxy;
  let pool: mysql.Pool;

  beforeEach(async () => {
    const proxying = await behindProxy(TEST_DATABASE_URL!);
    proxy = proxying.proxy;
    pool = mysql.createPool({ uri: proxying.proxied.toString(), connectionLimit: 4 });
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => pool.end(() => resolve()));
    await proxy.close();
  });

  function connection(): Promise<BoundableConnection> {
    return new Promise((resolve, reject) => {
      (pool as unknown as BoundablePool).getConnection((err, conn) => (err ? reject(err) : resolve(conn)));
    });
  }

  it('answers a statement cut by a connection reset once, and its timer does not count as a later failure', async () => {
    const { logger } = memoryLogger('error');
    const { breaker } = boundPool(pool as unknown as BoundablePool, { acquireTimeoutMs: 1000, queryTimeoutMs: RESET_QUERY_TIMEOUT_MS }, { logger });

    // One failure short of opening the circuit, so a single late "timeout" would open it.
    const answers: string[][] = [];
    const cut = await Promise.all(Array.from({ length: 4 }, () => connection()));
    const calls = cut.map((conn, i) => {
      answers[i] = [];
      return new Promise<void>((resolve) => {
        conn.query('SELECT SLEEP(5)', (err: (Error & { code?: string }) | null) => {
          answers[i]!.push(err?.code ?? 'ok');
          resolve();
        });
      });
    });
    await sleep(50);
    proxy.resetAll();
    await Promise.all(calls);
    expect(answers.map((seen) => seen[0]), 'each statement hears of the reset').to.deep.equal(['ECONNRESET', 'ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
    expect(breaker!.state).to.equal('closed');

    // Past the statements' own timeout: mysql2's timers fire now; nothing may reach the callers.
    await sleep(RESET_QUERY_TIMEOUT_MS + 200);
    expect(answers, 'no statement answered twice').to.deep.equal([['ECONNRESET'], ['ECONNRESET'], ['ECONNRESET'], ['ECONNRESET']]);
    expect(breaker!.state, 'the circuit stayed closed (four failures, not eight)').to.equal('closed');
    const fresh = await connection();
    const answer = await new Promise<unknown>((resolve, reject) => fresh.query('SELECT 1 AS one', (err: Error | null, rows: unknown) => (err ? reject(err) : resolve(rows))));
    fresh.release();
    expect(answer).to.deep.equal([{ one: 1 }]);
    breaker!.close();
  });
});

(onMysql ? describe : describe.skip)('resilience: the bounded MySQL pool, while migrations run', () => {
  let pool: mysql.Pool;

  beforeEach(() => {
    pool = mysql.createPool({ uri: TEST_DATABASE_URL!, connectionLimit: 2 });
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => pool.end(() => resolve()));
  });

  function sleepOnServer(seconds: number): Promise<string> {
    return new Promise((resolve) => {
      (pool as unknown as BoundablePool).getConnection((err, conn) => {
        if (err) {
          resolve(String((err as Error & { code?: string }).code));
          return;
        }
        conn.query(`SELECT SLEEP(${seconds})`, (queryError: (Error & { code?: string }) | null) => {
          if (!queryError) conn.release();
          resolve(queryError?.code ?? 'ok');
        });
      });
    });
  }

  it('lets statements run past the query timeout inside withoutQueryTimeout, and bounds them again after', async () => {
    const bounds = boundPool(pool as unknown as BoundablePool, { acquireTimeoutMs: 1000, queryTimeoutMs: QUERY_TIMEOUT_MS });
    expect(await sleepOnServer(0.6), 'bounded').to.equal('PROTOCOL_SEQUENCE_TIMEOUT');
    expect(await bounds.withoutQueryTimeout(() => sleepOnServer(0.6)), 'a migration-length statement').to.equal('ok');
    expect(await sleepOnServer(0.6), 'bounded again').to.equal('PROTOCOL_SEQUENCE_TIMEOUT');
  });
});
