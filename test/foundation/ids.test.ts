import { expect } from 'chai';
import { decodeTime, isValid } from 'ulid';
import { isTimeOrderedId, newId, newTimeOrderedId, TIME_ORDERED_PREFIX_LENGTH, timeOrderedId, timeOrderedToken } from '../../src/lib/ids.js';
import { pooledRandomByte, pooledRandomBytes, randomToken } from '../../src/lib/crypto.js';
import { tokenIdsFor } from '../../src/oidc/token_ids.js';

/** Waits until Date.now() has moved past `ms`. */
async function nextMillisecond(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setTimeout(resolve, 1));
}

describe('lib/ids: time-ordered ids', () => {
  it('timeOrderedId is a ULID whose time part is its creation time', () => {
    const before = Date.now();
    const id = timeOrderedId();
    const after = Date.now();
    expect(id).to.match(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(isValid(id)).to.equal(true);
    expect(decodeTime(id)).to.be.within(before, after);
  });

  it('ids made in a later millisecond sort after earlier ones, as strings', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      made.push(timeOrderedId(), timeOrderedToken());
      // Read after the ids were made: the next ones then carry a later millisecond.
      await nextMillisecond(Date.now());
    }
    const byTime = made.filter((_, index) => index % 2 === 0);
    expect([...byTime].sort()).to.deep.equal(byTime);
    const tokens = made.filter((_, index) => index % 2 === 1);
    expect([...tokens].sort()).to.deep.equal(tokens);
  });

  it('the random part differs between ids of the same millisecond (80 bits; a token 256 more)', () => {
    const ids = Array.from({ length: 2000 }, () => timeOrderedId());
    expect(new Set(ids).size).to.equal(ids.length);
    expect(new Set(ids.map((id) => id.slice(TIME_ORDERED_PREFIX_LENGTH))).size).to.equal(ids.length);
    // Every character of the random part is used (one pooled byte per character, 32 symbols).
    const symbols = new Set(ids.flatMap((id) => [...id.slice(TIME_ORDERED_PREFIX_LENGTH)]));
    expect(symbols.size).to.equal(32);
    const token = timeOrderedToken();
    expect(token).to.have.length(69);
    expect(token.slice(26)).to.match(/^[A-Za-z0-9_-]{43}$/);
  });

  it('newTimeOrderedId keeps the readable prefix', () => {
    expect(newTimeOrderedId('ses')).to.match(/^ses_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('isTimeOrderedId tells them from the engine\'s ids, keyed hashes and other ids', () => {
    expect(isTimeOrderedId(timeOrderedId())).to.equal(true);
    expect(isTimeOrderedId(timeOrderedToken())).to.equal(true);
    for (const other of [
      randomToken(16).slice(0, 21), // the engine's grant and session ids (nanoid, 21)
      randomToken(32), // its opaque tokens (43)
      'a'.repeat(64), // a keyed hash
      newId('ses'),
      timeOrderedId().toLowerCase().replace(/^./, 'z'), // 26 characters, not Crockford base32 within range
      `${timeOrderedId()}x`,
      timeOrderedToken().slice(1),
      '',
    ]) {
      expect(isTimeOrderedId(other), other).to.equal(false);
    }
  });

  it('TokenIds.rowId puts a time-ordered id\'s time part in front of its keyed hash, and only then', () => {
    const ids = tokenIdsFor('a root secret of enough length for tests');
    const ordered = timeOrderedToken();
    expect(ids.rowId(ordered)).to.equal(`${ordered.slice(0, TIME_ORDERED_PREFIX_LENGTH)}${ids.hash(ordered)}`);
    expect(ids.rowId(ordered)).not.to.include(ordered.slice(TIME_ORDERED_PREFIX_LENGTH));
    const engineId = randomToken(32);
    expect(ids.rowId(engineId)).to.equal(ids.hash(engineId)).and.match(/^[0-9a-f]{64}$/);
  });
});

describe('lib/crypto: pooled random bytes, one at a time', () => {
  it('are whole bytes, every value turns up, across several refills of the pool and between buffer draws', () => {
    const seen = new Set<number>();
    // 20,000 draws cross the 4 KiB pool several times; buffer draws in between share the pool.
    for (let i = 0; i < 20_000; i += 1) {
      const byte = pooledRandomByte();
      expect(Number.isInteger(byte) && byte >= 0 && byte <= 255, String(byte)).to.equal(true);
      seen.add(byte);
      if (i % 1000 === 0) expect(pooledRandomBytes(16)).to.have.length(16);
    }
    expect(seen.size).to.equal(256);
  });
});
