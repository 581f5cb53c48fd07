import FakeTimers, { type Clock as FakeClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { BoundedCache } from '../../src/lib/lru.js';

describe('BoundedCache (the one bounded LRU)', () => {
  describe('bound and eviction order', () => {
    it('never holds more than its bound, however many keys come', () => {
      const cache = new BoundedCache<string, number>({ maxEntries: 100 });
      for (let i = 0; i < 10_000; i += 1) {
        cache.set(`junk-${i}`, i);
        expect(cache.size).to.be.at.most(100);
      }
      expect(cache.size).to.equal(100);
      // The last 100 written are the ones kept.
      expect(cache.get('junk-9899')).to.equal(undefined);
      for (let i = 9900; i < 10_000; i += 1) expect(cache.get(`junk-${i}`)).to.equal(i);
    });

    it('evicts the least recently used: a read makes an entry the most recent', () => {
      const cache = new BoundedCache<string, number>({ maxEntries: 3 });
      cache.set('a', 1);
      cache.set('b', 2);
      cache.set('c', 3);
      expect(cache.get('a')).to.equal(1);
      cache.set('d', 4);
      expect(cache.get('b'), 'b was the least recently used').to.equal(undefined);
      expect([...cache.entries()].map(([key]) => key)).to.deep.equal(['d', 'a', 'c']);
      cache.set('e', 5);
      expect(cache.has('c'), 'then c').to.equal(false);
      expect(cache.size).to.equal(3);
    });

    it('a write of a present key replaces its value and makes it the most recent, without growing', () => {
      const cache = new BoundedCache<string, string>({ maxEntries: 2 });
      cache.set('a', 'first');
      cache.set('b', 'b');
      cache.set('a', 'second');
      expect(cache.size).to.equal(2);
      cache.set('c', 'c');
      expect(cache.get('b')).to.equal(undefined);
      expect(cache.get('a')).to.equal('second');
    });

    it('peek, has and entries leave the order alone', () => {
      const cache = new BoundedCache<string, number>({ maxEntries: 2 });
      cache.set('a', 1);
      cache.set('b', 2);
      expect(cache.peek('a')).to.equal(1);
      expect(cache.has('a')).to.equal(true);
      expect([...cache.entries()]).to.have.length(2);
      cache.set('c', 3);
      expect(cache.has('a'), 'a was still the least recently used').to.equal(false);
      expect(cache.peek('b')).to.equal(2);
    });

    it('deletes, clears, and deletes by predicate (returning how many went)', () => {
      const cache = new BoundedCache<string, { agent: string }>({ maxEntries: 10 });
      cache.set('k1', { agent: 'x' });
      cache.set('k2', { agent: 'y' });
      cache.set('k3', { agent: 'x' });
      expect(cache.deleteWhere((value) => value.agent === 'x')).to.equal(2);
      expect([...cache.entries()].map(([key]) => key)).to.deep.equal(['k2']);
      expect(cache.delete('k2')).to.equal(true);
      expect(cache.delete('k2')).to.equal(false);
      cache.set('k4', { agent: 'z' });
      cache.clear();
      expect(cache.size).to.equal(0);
      expect(cache.get('k4')).to.equal(undefined);
    });

    it('keeps nothing when its bound or its TTL is zero', () => {
      for (const options of [{ maxEntries: 0 }, { maxEntries: -1 }, { maxEntries: 10, ttlMs: 0 }]) {
        const cache = new BoundedCache<string, number>(options);
        cache.set('a', 1);
        expect(cache.enabled).to.equal(false);
        expect(cache.get('a')).to.equal(undefined);
        expect(cache.size).to.equal(0);
        expect(cache.deleteWhere(() => true)).to.equal(0);
      }
      expect(new BoundedCache({ maxEntries: 1 }).enabled).to.equal(true);
    });

    it('tells nothing apart from undefined: callers wrap such values', () => {
      const cache = new BoundedCache<string, { state: string | undefined }>({ maxEntries: 2 });
      cache.set('unknown', { state: undefined });
      expect(cache.get('unknown')).to.deep.equal({ state: undefined });
      expect(cache.get('never-set')).to.equal(undefined);
    });
  });

  describe('time to live (fake timers over Date)', () => {
    let clock: FakeClock;
    afterEach(() => clock.uninstall());

    it('an entry set at t is a hit until t + ttl, and a miss (dropped) from exactly t + ttl on', () => {
      clock = FakeTimers.install({ now: 1_700_000_000_000, toFake: ['Date'] });
      const cache = new BoundedCache<string, string>({ maxEntries: 10, ttlMs: 5000 });
      cache.set('a', 'A');
      clock.tick(4999);
      expect(cache.get('a')).to.equal('A');
      expect(cache.has('a')).to.equal(true);
      clock.tick(1);
      expect(cache.peek('a'), 'peek judges time too').to.equal(undefined);
      expect(cache.has('a')).to.equal(false);
      expect(cache.size, 'not dropped until read').to.equal(1);
      expect(cache.get('a')).to.equal(undefined);
      expect(cache.size, 'dropped when read').to.equal(0);
    });

    it('a rewrite starts a new TTL; a read does not extend it', () => {
      clock = FakeTimers.install({ now: 1_700_000_000_000, toFake: ['Date'] });
      const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1000 });
      cache.set('read', 1);
      cache.set('rewritten', 1);
      clock.tick(600);
      expect(cache.get('read')).to.equal(1);
      cache.set('rewritten', 2);
      clock.tick(600);
      expect(cache.get('read')).to.equal(undefined);
      expect(cache.get('rewritten')).to.equal(2);
      clock.tick(400);
      expect(cache.get('rewritten')).to.equal(undefined);
    });

    it('expires entries set while the clock reads 0 (the epoch) like any other', () => {
      clock = FakeTimers.install({ now: 0, toFake: ['Date'] });
      const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 100 });
      cache.set('a', 1);
      clock.tick(100);
      expect(cache.get('a')).to.equal(undefined);
    });

    it('entries lists live entries only; deleteWhere sees expired ones too', () => {
      clock = FakeTimers.install({ now: 1_700_000_000_000, toFake: ['Date'] });
      const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1000 });
      cache.set('old', 1);
      clock.tick(500);
      cache.set('new', 2);
      clock.tick(500);
      expect([...cache.entries()]).to.deep.equal([['new', 2]]);
      expect(cache.deleteWhere(() => true)).to.equal(2);
    });

    it('arms no timer (nothing runs in the background)', () => {
      clock = FakeTimers.install({ now: 1_700_000_000_000 });
      const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1000 });
      cache.set('a', 1);
      cache.get('a');
      expect(clock.countTimers()).to.equal(0);
    });
  });

  describe('an explicit now, or a clock of its own', () => {
    it('judges against the instant the caller passes', () => {
      const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1000 });
      cache.set('a', 1, 50_000);
      expect(cache.get('a', 50_999)).to.equal(1);
      expect(cache.has('a', 51_000)).to.equal(false);
      expect(cache.get('a', 51_000)).to.equal(undefined);
    });

    it('reads the clock it was given', () => {
      let now = 10_000;
      const cache = new BoundedCache<string, number>({ maxEntries: 10, ttlMs: 1000, clock: { now: () => now } });
      cache.set('a', 1);
      now += 999;
      expect(cache.get('a')).to.equal(1);
      now += 1;
      expect(cache.get('a')).to.equal(undefined);
    });

    it('without a TTL, an entry lasts until evicted whatever the time', () => {
      const cache = new BoundedCache<string, number>({ maxEntries: 1 });
      cache.set('a', 1, 0);
      expect(cache.get('a', Number.MAX_SAFE_INTEGER)).to.equal(1);
    });
  });
});
