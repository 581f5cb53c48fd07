import { expect } from 'chai';
import type { DataSource } from 'typeorm';
import { SqlRunner, type Statement } from '../../../src/db/stores/sql.js';
import { TokenRevocationTable } from '../../../src/db/stores/token_revocations.js';
import { InProcessBus } from '../../../src/lib/bus.js';
import { RevocationRegistry } from '../../../src/oidc/revocations.js';
import { VerifiedJwsCache } from '../../../src/oidc/verified_jws_cache.js';
import { startTestApp, type TestApp } from '../../support/app.js';

describe('oidc: revocation registry reads without a "not revoked" cache (MySQL without Redis)', () => {
  let app: TestApp;
  let dataSource: DataSource;
  let registryQueries = 0;
  /** Delay given to every registry read (ms), to hold a query in flight. */
  let readDelayMs = 0;
  /** Makes every registry read fail while set (a lost connection). */
  let readFailure: Error | undefined;
  // The registry reads through the stores' SqlRunner, which bypasses DataSource.query on both
  // drivers: the reads are counted and held where both drivers pass.
  const originalQuery = SqlRunner.prototype.query;

  before(async () => {
    app = await startTestApp();
    dataSource = app.services.database.dataSource;
    SqlRunner.prototype.query = async function countedQuery<Row>(this: SqlRunner, statement: Statement, parameters: readonly unknown[]): Promise<Row[]> {
      if (/^SELECT .* FROM .token_revocations. WHERE/i.test(statement.sql)) {
        registryQueries += 1;
        if (readDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, readDelayMs));
        if (readFailure) throw readFailure;
      }
      return originalQuery.call(this, statement, parameters) as Promise<Row[]>;
    } as typeof SqlRunner.prototype.query;
  });
  after(async () => {
    SqlRunner.prototype.query = originalQuery;
    await app.close();
  });

  /** An instance's registry that caches no "not revoked" answer: every check reads the table. */
  function uncachedRegistry(): RevocationRegistry {
    return new RevocationRegistry(new TokenRevocationTable(dataSource), new InProcessBus(), app.services.logger, { negativeCacheMs: 0, sharedBus: false });
  }

  const later = (): Date => new Date(Date.now() + 3_600_000);
  const issuedBefore = (): number => Math.floor(Date.now() / 1000) - 5;

  it('answers concurrent checks correctly with fewer queries than checks', async () => {
    const registry = uncachedRegistry();
    await uncachedRegistry().revoke({ kind: 'jti', value: 'coalesced-revoked' }, later());
    // Long enough that the eight turns the checks are spread over fit in the first read's flight even
    // on a starved machine (at 20 ms CI once saw a fourth query: the first read came back mid-spread).
    readDelayMs = 250;
    registryQueries = 0;
    try {
      const checks = Array.from({ length: 40 }, (_, i) => ({ kind: 'jti', value: i === 17 ? 'coalesced-revoked' : `coalesced-live-${i}` }));
      // Spread over several ticks while the first query is in flight.
      const answers: Array<Promise<boolean>> = [];
      for (const [i, key] of checks.entries()) {
        answers.push(registry.isRevoked([key, { kind: 'client', value: 'cli_coalesced' }], issuedBefore()));
        if (i % 5 === 4) await new Promise((resolve) => setImmediate(resolve));
      }
      const results = await Promise.all(answers);
      expect(results.filter(Boolean)).to.have.length(1);
      expect(results[17]).to.equal(true);
      expect(registryQueries).to.be.at.least(1).and.at.most(3);
    } finally {
      readDelayMs = 0;
    }
  });

  it('never lets a check ride on a query sent before it was asked (a revocation in between is seen)', async () => {
    const here = uncachedRegistry();
    const elsewhere = uncachedRegistry();
    readDelayMs = 50;
    try {
      const inFlight = here.isRevoked([{ kind: 'jti', value: 'raced-other' }], issuedBefore());
      await new Promise((resolve) => setTimeout(resolve, 10));
      // Committed by another instance while `here` has a read in flight.
      await elsewhere.revoke({ kind: 'jti', value: 'raced' }, later());
      expect(await here.isRevoked([{ kind: 'jti', value: 'raced' }], issuedBefore())).to.equal(true);
      expect(await inFlight).to.equal(false);
    } finally {
      readDelayMs = 0;
    }
  });

  it('fails every waiting check when the read fails, and recovers', async () => {
    const registry = uncachedRegistry();
    readFailure = new Error('connection lost');
    try {
      const results = await Promise.allSettled([1, 2, 3].map((i) => registry.isRevoked([{ kind: 'jti', value: `down-${i}` }], issuedBefore())));
      expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
    } finally {
      readFailure = undefined;
    }
    expect(await registry.isRevoked([{ kind: 'jti', value: 'up-again' }], issuedBefore())).to.equal(false);
  });
});

describe('oidc: remembered signature checks (VerifiedJwsCache)', () => {
  const jws = (n: number) => ({ header: { alg: 'ES256', kid: 'k' }, payload: { n } });

  it('keeps at most its bound, dropping the least recently used', () => {
    const cache = new VerifiedJwsCache(3);
    cache.set('a', jws(1));
    cache.set('b', jws(2));
    cache.set('c', jws(3));
    expect(cache.get('a')?.payload).to.deep.equal({ n: 1 });
    cache.set('d', jws(4));
    expect(cache.size).to.equal(3);
    expect(cache.get('b')).to.equal(undefined);
    expect(cache.get('a')).to.not.equal(undefined);
    expect(cache.get('c')).to.not.equal(undefined);
    expect(cache.get('d')).to.not.equal(undefined);
  });

  it('stores nothing when its bound is zero', () => {
    const cache = new VerifiedJwsCache(0);
    cache.set('a', jws(1));
    expect(cache.get('a')).to.equal(undefined);
    expect(cache.size).to.equal(0);
  });
});
