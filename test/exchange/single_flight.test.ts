import { expect } from 'chai';
import { SingleFlight } from '../../src/exchange/single_flight.js';

/** src/exchange/single_flight.ts: identical exchanges in one process share one run. */
describe('exchange: single flight', () => {
  function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(err: Error): void } {
    let resolve!: (value: T) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  }

  it('callers with the same key while it runs share its one run; other keys run their own', async () => {
    const flights = new SingleFlight<string>();
    const runs: string[] = [];
    const gate = deferred<void>();
    const work = (name: string) => async (): Promise<string> => {
      runs.push(name);
      await gate.promise;
      return `${name} done`;
    };
    const answers = [flights.run('a', work('a1')), flights.run('a', work('a2')), flights.run('b', work('b1')), flights.run('a', work('a3'))];
    expect(flights.size).to.equal(2);
    gate.resolve();
    expect(await Promise.all(answers)).to.deep.equal(['a1 done', 'a1 done', 'b1 done', 'a1 done']);
    expect(runs).to.deep.equal(['a1', 'b1']);
    expect(flights.size).to.equal(0);
  });

  it('remembers nothing once settled: the next call runs anew, after a success and after a failure', async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    expect(await flights.run('k', async () => (runs += 1))).to.equal(1);
    expect(await flights.run('k', async () => (runs += 1))).to.equal(2);
    const failing = deferred<number>();
    const first = flights.run('k', () => failing.promise);
    const joined = flights.run('k', async () => (runs += 1));
    failing.reject(new Error('database went away'));
    for (const answer of [first, joined]) {
      try {
        await answer;
        expect.fail('the shared run failed');
      } catch (err) {
        expect((err as Error).message).to.equal('database went away');
      }
    }
    expect(runs).to.equal(2);
    expect(await flights.run('k', async () => (runs += 1))).to.equal(3);
    expect(flights.size).to.equal(0);
  });

  it('a key whose run settled within the call is free again for the next caller', async () => {
    const flights = new SingleFlight<string>();
    const settled = flights.run('k', () => Promise.resolve('first'));
    await settled;
    expect(await flights.run('k', () => Promise.resolve('second'))).to.equal('second');
  });

  it('many rounds of many keys leave nothing behind', async () => {
    const flights = new SingleFlight<number>();
    for (let round = 0; round < 50; round += 1) {
      const answers = await Promise.all(Array.from({ length: 40 }, (_, index) => flights.run(`k${index % 20}`, async () => index)));
      // Each key's first caller ran; the second of the same key (index + 20) joined it.
      expect(answers.slice(20)).to.deep.equal(answers.slice(0, 20));
      expect(flights.size).to.equal(0);
    }
  });
});
