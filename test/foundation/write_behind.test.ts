import FakeTimers, { type Clock as FakeClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { WriteBehindBuffer, type WriteBehindOptions } from '../../src/lib/write_behind.js';

type Batch = Array<[string, number]>;

describe('WriteBehindBuffer (the one write-behind buffer)', () => {
  let clock: FakeClock;
  beforeEach(() => { clock = FakeTimers.install({ now: 1_700_000_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] }); });
  afterEach(() => clock.uninstall());

  /** A buffer of summed numbers whose writes are recorded (and, when `gate` is set, held until released). */
  function summing(options: Partial<WriteBehindOptions<string, number>> = {}) {
    const batches: Batch[] = [];
    const buffer = new WriteBehindBuffer<string, number>({
      delayMs: 5000,
      merge: (pending, incoming) => pending + incoming,
      write: async (batch) => { batches.push([...batch]); },
      ...options,
    });
    return { buffer, batches };
  }

  it('writes nothing on add; everything pending goes out as one batch delayMs after the first add', async () => {
    const { buffer, batches } = summing();
    buffer.add('a', 1);
    await clock.tickAsync(3000);
    buffer.add('b', 2);
    buffer.add('a', 4);
    expect(buffer.size).to.equal(2);
    expect([...buffer.pendingValues()]).to.deep.equal([5, 2]);
    await clock.tickAsync(1999);
    expect(batches).to.deep.equal([]);
    await clock.tickAsync(1);
    expect(batches).to.deep.equal([[['a', 5], ['b', 2]]]);
    expect(buffer.size).to.equal(0);
    expect(clock.countTimers(), 'nothing pending, no timer').to.equal(0);
  });

  it('folds entries under one key with merge (here the newest wins)', async () => {
    const { buffer, batches } = summing({ merge: (_pending, incoming) => incoming });
    buffer.add('k', 1);
    buffer.add('k', 9);
    buffer.add('k', 3);
    await buffer.flush();
    expect(batches).to.deep.equal([[['k', 3]]]);
  });

  it('flush() writes at once and cancels the timer; with nothing pending it does not write', async () => {
    const { buffer, batches } = summing();
    await buffer.flush();
    expect(batches).to.deep.equal([]);
    buffer.add('a', 1);
    expect(clock.countTimers()).to.equal(1);
    await buffer.flush();
    expect(batches).to.have.length(1);
    expect(clock.countTimers()).to.equal(0);
    await clock.tickAsync(10_000);
    expect(batches).to.have.length(1);
  });

  it('one write at a time: entries added during a write go out in the next batch; every flush resolves once its entries are written', async () => {
    const releases: Array<() => void> = [];
    const batches: Batch[] = [];
    const buffer = new WriteBehindBuffer<string, number>({
      delayMs: 5000,
      merge: (pending, incoming) => pending + incoming,
      write: (batch) => {
        batches.push([...batch]);
        return new Promise((resolve) => { releases.push(resolve); });
      },
    });
    buffer.add('a', 1);
    const first = buffer.flush();
    buffer.add('a', 10);
    buffer.add('b', 1);
    let secondDone = false;
    let thirdDone = false;
    const second = buffer.flush().then(() => { secondDone = true; });
    const third = buffer.flush().then(() => { thirdDone = true; });
    await clock.tickAsync(0);
    expect(batches, 'the second batch waits for the first write').to.deep.equal([[['a', 1]]]);
    releases.shift()!();
    await first;
    await clock.tickAsync(0);
    expect(batches).to.deep.equal([[['a', 1]], [['a', 10], ['b', 1]]]);
    expect(secondDone || thirdDone, 'their entries are not written yet').to.equal(false);
    releases.shift()!();
    await Promise.all([second, third]);
    expect(batches).to.have.length(2);
  });

  it('reaching maxPending starts a flush at once, without waiting for the timer', async () => {
    const { buffer, batches } = summing({ maxPending: 3 });
    buffer.add('a', 1);
    buffer.add('b', 1);
    buffer.add('a', 1);
    expect(batches).to.deep.equal([]);
    buffer.add('c', 1);
    await clock.tickAsync(0);
    expect(batches).to.deep.equal([[['a', 2], ['b', 1], ['c', 1]]]);
  });

  it('entries handed to retryLater are put back (merged with newer ones) and written by the next flush, the timer armed', async () => {
    const batches: Batch[] = [];
    let failing = true;
    const buffer = new WriteBehindBuffer<string, number>({
      delayMs: 5000,
      merge: (pending, incoming) => pending + incoming,
      write: async (batch, retryLater) => {
        if (failing) {
          await Promise.resolve();
          buffer.add('a', 100); // arrives while the failed write is in progress
          retryLater(batch);
          return;
        }
        batches.push([...batch]);
      },
    });
    buffer.add('a', 1);
    buffer.add('b', 2);
    await buffer.flush();
    expect(batches).to.deep.equal([]);
    expect([...buffer.pendingValues()]).to.deep.equal([101, 2]);
    failing = false;
    await clock.tickAsync(5000);
    expect(batches).to.deep.equal([[['a', 101], ['b', 2]]]);
  });

  it('puts back no more than maxPending entries (newer ones first); entries not handed back are lost', async () => {
    const buffer = new WriteBehindBuffer<string, number>({
      delayMs: 5000,
      maxPending: 3,
      merge: (pending, incoming) => pending + incoming,
      write: async (batch, retryLater) => {
        await Promise.resolve();
        buffer.add('x', 1); // two newer entries arrive during the failing write
        buffer.add('y', 1);
        retryLater(batch);
      },
    });
    buffer.add('a', 1);
    buffer.add('b', 1);
    await buffer.flush();
    expect(buffer.size, 'x, y and a: b did not fit').to.equal(3);

    const dropping = summing({ write: async () => { /* neither written nor handed back */ } });
    dropping.buffer.add('a', 1);
    await dropping.buffer.flush();
    expect(dropping.buffer.size).to.equal(0);
  });

  it('puts back in key order and arms the timer once', async () => {
    let fail = true;
    const batches: Batch[] = [];
    const buffer = new WriteBehindBuffer<string, number>({
      delayMs: 5000,
      merge: (pending, incoming) => pending + incoming,
      write: async (batch, retryLater) => {
        if (fail) retryLater(batch);
        else batches.push([...batch]);
      },
    });
    buffer.add('a', 1);
    buffer.add('b', 2);
    await buffer.flush();
    expect(clock.countTimers()).to.equal(1);
    fail = false;
    await clock.tickAsync(5000);
    expect(batches).to.deep.equal([[['a', 1], ['b', 2]]]);
  });

  it('close() writes what is pending (shutdown)', async () => {
    const { buffer, batches } = summing();
    buffer.add('a', 1);
    await buffer.close();
    expect(batches).to.deep.equal([[['a', 1]]]);
    expect(clock.countTimers()).to.equal(0);
  });

  it('does not keep the process alive: its timer is unref()ed', async () => {
    const armed: NodeJS.Timeout[] = [];
    const fakeSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = ((handler: () => void, ms: number) => {
      const timer = fakeSetTimeout(handler, ms);
      armed.push(timer);
      return timer;
    }) as typeof setTimeout;
    const { buffer } = summing();
    try {
      buffer.add('a', 1);
    } finally {
      globalThis.setTimeout = fakeSetTimeout;
    }
    expect(armed).to.have.length(1);
    expect(armed[0]!.hasRef()).to.equal(false);
    await buffer.close();
  });

  it('reads a table and the pending entries consistently: after a write in progress, and again when a write started meanwhile', async () => {
    const table = new Map<string, number>();
    let release: () => void = () => undefined;
    const buffer = new WriteBehindBuffer<string, number>({
      delayMs: 60_000,
      merge: (a, b) => a + b,
      write: async (batch) => {
        await new Promise<void>((resolve) => { release = resolve; });
        for (const [key, value] of batch) table.set(key, (table.get(key) ?? 0) + value);
      },
    });
    buffer.add('a', 2);
    const writing = buffer.flush();
    buffer.add('a', 1);
    // The write of 2 is in flight: neither in the table nor pending.
    expect([...buffer.pendingValues()]).to.deep.equal([1]);
    const read = buffer.readConsistently(async () => new Map(table));
    setImmediate(() => release());
    const { table: seen, pending } = await read;
    await writing;
    expect(seen.get('a')).to.equal(2);
    expect(pending).to.deep.equal([1]);

    // A write that starts while the table is read: the read is made again, after it.
    let reads = 0;
    const again = await buffer.readConsistently(async () => {
      reads += 1;
      if (reads === 1) {
        const second = buffer.flush();
        setImmediate(() => release());
        await second;
      }
      return new Map(table);
    });
    expect(reads).to.equal(2);
    expect(again.table.get('a')).to.equal(3);
    expect(again.pending).to.deep.equal([]);
  });
});

