import { expect } from 'chai';
import { BatchLoader } from '../../src/lib/batch_loader.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A promise settled from outside (a query held in flight). */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(err: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('BatchLoader (the one batching primitive)', () => {
  describe('serial dispatch (batched reads)', () => {
    it('sends the loads of one tick as one batch and answers each with its own result', async () => {
      const batches: number[][] = [];
      const loader = new BatchLoader<number, number>({ dispatch: 'serial', maxBatch: 100, runBatch: async (items) => { batches.push([...items]); return items.map((n) => n * 10); } });
      const results = await Promise.all([1, 2, 3].map((n) => loader.load(n)));
      expect(results).to.deep.equal([10, 20, 30]);
      expect(batches).to.deep.equal([[1, 2, 3]]);
    });

    it('keeps one batch in flight: loads asked meanwhile wait for it and go out together as the next one', async () => {
      const held = deferred<void>();
      const batches: number[][] = [];
      const loader = new BatchLoader<number, number>({
        dispatch: 'serial',
        maxBatch: 100,
        runBatch: async (items) => {
          batches.push([...items]);
          if (batches.length === 1) await held.promise;
          return [...items];
        },
      });
      const first = loader.load(1);
      await nextTurn();
      expect(batches).to.deep.equal([[1]]);
      // Asked while the first batch is out, over several turns: none joins it.
      const later = [loader.load(2), loader.load(3)];
      await nextTurn();
      later.push(loader.load(4));
      await nextTurn();
      expect(batches, 'nothing more goes out while one is in flight').to.deep.equal([[1]]);
      expect(loader.pending).to.equal(3);
      held.resolve();
      expect(await first).to.equal(1);
      expect(await Promise.all(later)).to.deep.equal([2, 3, 4]);
      expect(batches).to.deep.equal([[1], [2, 3, 4]]);
    });

    it('splits by maxBatch, one batch after the other, in order of arrival', async () => {
      let running = 0;
      let mostAtOnce = 0;
      const batches: number[][] = [];
      const loader = new BatchLoader<number, number>({
        dispatch: 'serial',
        maxBatch: 2,
        runBatch: async (items) => {
          running += 1;
          mostAtOnce = Math.max(mostAtOnce, running);
          batches.push([...items]);
          await nextTurn();
          running -= 1;
          return [...items];
        },
      });
      expect(await Promise.all([1, 2, 3, 4, 5].map((n) => loader.load(n)))).to.deep.equal([1, 2, 3, 4, 5]);
      expect(batches).to.deep.equal([[1, 2], [3, 4], [5]]);
      expect(mostAtOnce).to.equal(1);
    });

    it('weighs items: a batch carries at most maxBatch weight, but always at least one item', async () => {
      const batches: string[][][] = [];
      const loader = new BatchLoader<string[], number>({
        dispatch: 'serial',
        maxBatch: 4,
        weight: (values) => values.length,
        runBatch: async (items) => { batches.push(items.map((item) => [...item])); return items.map((item) => item.length); },
      });
      const results = await Promise.all([['a', 'b'], ['c', 'd'], ['e'], ['f', 'g', 'h', 'i', 'j'], ['k']].map((item) => loader.load(item)));
      expect(results).to.deep.equal([2, 2, 1, 5, 1]);
      expect(batches).to.deep.equal([[['a', 'b'], ['c', 'd']], [['e']], [['f', 'g', 'h', 'i', 'j']], [['k']]]);
    });

    it('fails every load of a failed batch (no runOne), and the next batch goes out as usual', async () => {
      let fail = true;
      const loader = new BatchLoader<number, number>({
        dispatch: 'serial',
        maxBatch: 10,
        runBatch: async (items) => {
          if (fail) throw new Error('connection lost');
          return [...items];
        },
      });
      const results = await Promise.allSettled([1, 2, 3].map((n) => loader.load(n)));
      expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
      expect((results[0] as PromiseRejectedResult).reason.message).to.equal('connection lost');
      fail = false;
      expect(await loader.load(4)).to.equal(4);
    });

    it('fails the batch when it answers the wrong number of results', async () => {
      const loader = new BatchLoader<number, number>({ dispatch: 'serial', maxBatch: 10, runBatch: async () => [1] });
      const results = await Promise.allSettled([loader.load(1), loader.load(2)]);
      expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'rejected']);
    });
  });

  describe('per-turn dispatch (batched writes)', () => {
    it('writes the rows of one turn as one statement, after the turn (not within the tick)', async () => {
      const batches: string[][] = [];
      const loader = new BatchLoader<string, boolean>({
        dispatch: 'per-turn',
        maxBatch: 50,
        runBatch: async (rows) => { batches.push([...rows]); return rows.map(() => true); },
        runOne: async (row) => { batches.push([row]); return true; },
      });
      const writes = [loader.load('a'), loader.load('b')];
      await Promise.resolve();
      await new Promise((resolve) => process.nextTick(resolve));
      expect(batches, 'nothing before the check phase').to.deep.equal([]);
      writes.push(loader.load('c'));
      expect(await Promise.all(writes)).to.deep.equal([true, true, true]);
      expect(batches).to.deep.equal([['a', 'b', 'c']]);
    });

    it('sends a row alone through runOne', async () => {
      const calls: string[] = [];
      const loader = new BatchLoader<string, string>({
        dispatch: 'per-turn',
        maxBatch: 50,
        runBatch: async (rows) => { calls.push(`many:${rows.join()}`); return [...rows]; },
        runOne: async (row) => { calls.push(`one:${row}`); return row; },
      });
      expect(await loader.load('x')).to.equal('x');
      expect(calls).to.deep.equal(['one:x']);
    });

    it('retries a failed multi-row statement row by row: one bad row fails only its own caller', async () => {
      const calls: string[] = [];
      const loader = new BatchLoader<string, boolean>({
        dispatch: 'per-turn',
        maxBatch: 50,
        runBatch: async (rows) => {
          calls.push(`many:${rows.join()}`);
          if (rows.includes('dup')) throw new Error('duplicate key');
          return rows.map(() => true);
        },
        runOne: async (row) => {
          calls.push(`one:${row}`);
          if (row === 'dup') throw new Error('duplicate key');
          return true;
        },
      });
      const results = await Promise.allSettled(['a', 'dup', 'b'].map((row) => loader.load(row)));
      expect(results.map((result) => result.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
      expect(calls[0]).to.equal('many:a,dup,b');
      expect(calls.slice(1).sort()).to.deep.equal(['one:a', 'one:b', 'one:dup']);
    });

    it('with retryAlone, fails every row at once with the batch\'s error when the failure is not about the rows', async () => {
      const calls: string[] = [];
      const outage = Object.assign(new Error('no answer'), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' });
      let failure: Error = outage;
      const loader = new BatchLoader<string, boolean>({
        dispatch: 'per-turn',
        maxBatch: 50,
        runBatch: async (rows) => { calls.push(`many:${rows.join()}`); throw failure; },
        runOne: async (row) => { calls.push(`one:${row}`); return true; },
        retryAlone: (err) => (err as { code?: string }).code !== 'PROTOCOL_SEQUENCE_TIMEOUT',
      });
      const results = await Promise.allSettled(['a', 'b'].map((row) => loader.load(row)));
      expect(results.map((result) => (result as PromiseRejectedResult).reason)).to.deep.equal([outage, outage]);
      expect(calls).to.deep.equal(['many:a,b']);

      // An answer about the rows is still retried row by row.
      failure = new Error('duplicate key');
      calls.length = 0;
      expect(await Promise.all(['c', 'd'].map((row) => loader.load(row)))).to.deep.equal([true, true]);
      expect(calls[0]).to.equal('many:c,d');
      expect(calls.slice(1).sort()).to.deep.equal(['one:c', 'one:d']);
    });

    it('splits a large turn by maxBatch and sends the batches without waiting for each other', async () => {
      const held = deferred<void>();
      const started: string[][] = [];
      const loader = new BatchLoader<string, string>({
        dispatch: 'per-turn',
        maxBatch: 2,
        runBatch: async (rows) => {
          started.push([...rows]);
          await held.promise;
          return [...rows];
        },
        runOne: async (row) => {
          started.push([row]);
          await held.promise;
          return row;
        },
      });
      const writes = ['a', 'b', 'c', 'd', 'e'].map((row) => loader.load(row));
      await nextTurn();
      await nextTurn();
      expect(started).to.deep.equal([['a', 'b'], ['c', 'd'], ['e']]);
      held.resolve();
      expect(await Promise.all(writes)).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    });

    it('does not hold writes of the next turn behind a statement in flight', async () => {
      const held = deferred<void>();
      const started: string[][] = [];
      const loader = new BatchLoader<string, string>({
        dispatch: 'per-turn',
        maxBatch: 10,
        runBatch: async (rows) => { started.push([...rows]); return [...rows]; },
        runOne: async (row) => {
          started.push([row]);
          if (row === 'slow') await held.promise;
          return row;
        },
      });
      const slow = loader.load('slow');
      await nextTurn();
      const next = loader.load('next');
      expect(await next).to.equal('next');
      expect(started).to.deep.equal([['slow'], ['next']]);
      held.resolve();
      expect(await slow).to.equal('slow');
    });
  });

  describe('per-turn dispatch over several turns', () => {
    /** Loads 'a', then 'b' one event-loop turn later; the statements the loader sent. */
    async function twoTurns(turns: number | undefined): Promise<string[][]> {
      const statements: string[][] = [];
      const loader = new BatchLoader<string, string>({
        dispatch: 'per-turn',
        maxBatch: 10,
        turns,
        runBatch: async (rows) => { statements.push([...rows]); return [...rows]; },
        runOne: async (row) => { statements.push([row]); return row; },
      });
      const first = loader.load('a');
      await nextTurn();
      const second = loader.load('b');
      expect(await Promise.all([first, second])).to.deep.equal(['a', 'b']);
      return statements;
    }

    it('with turns: 2, writes the rows of two consecutive turns as one statement', async () => {
      expect(await twoTurns(2)).to.deep.equal([['a', 'b']]);
    });

    it('by default (one turn), the row of the next turn is a statement of its own', async () => {
      expect(await twoTurns(undefined)).to.deep.equal([['a'], ['b']]);
      expect(await twoTurns(1)).to.deep.equal([['a'], ['b']]);
    });

    it('with turns: 3, a row of the fourth turn waits for the next statement', async () => {
      const statements: string[][] = [];
      const loader = new BatchLoader<string, string>({
        dispatch: 'per-turn',
        maxBatch: 10,
        turns: 3,
        runBatch: async (rows) => { statements.push([...rows]); return [...rows]; },
        runOne: async (row) => { statements.push([row]); return row; },
      });
      const loads = [loader.load('a')];
      for (const row of ['b', 'c', 'd']) {
        await nextTurn();
        loads.push(loader.load(row));
      }
      expect(await Promise.all(loads)).to.deep.equal(['a', 'b', 'c', 'd']);
      expect(statements).to.deep.equal([['a', 'b', 'c'], ['d']]);
    });

    it('refuses turns that are not a whole number of at least 1', () => {
      for (const turns of [0, 1.5, -1, Number.NaN]) {
        expect(() => new BatchLoader({ dispatch: 'per-turn', maxBatch: 1, turns, runBatch: async () => [] }), String(turns)).to.throw(/turns/);
      }
    });
  });

  it('refuses a maxBatch below 1', () => {
    expect(() => new BatchLoader({ dispatch: 'serial', maxBatch: 0, runBatch: async () => [] })).to.throw(/maxBatch/);
  });
});
