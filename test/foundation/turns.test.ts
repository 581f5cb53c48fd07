import { expect } from 'chai';
import { answerAtTurnEnd } from '../../src/http/edge/turn_end_answers.js';
import { isAhead, turnEnd } from '../../src/lib/turns.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Runs the microtasks and next-tick callbacks queued so far, and those they queue: nothing of the check phase. */
async function drainTicks(): Promise<void> {
  for (let round = 0; round < 5; round += 1) await new Promise<void>((resolve) => process.nextTick(resolve));
}

describe('the end of an event-loop turn (src/lib/turns.ts)', () => {
  it('is one promise for every caller of a turn, settled in its check phase; the next turn has its own', async () => {
    const first = turnEnd();
    const second = turnEnd();
    expect(second).to.equal(first);
    expect(isAhead(first)).to.equal(true);
    let settled = false;
    void first.then(() => { settled = true; });
    await drainTicks();
    expect(settled, 'not before the check phase').to.equal(false);
    await first;
    expect(isAhead(first)).to.equal(false);
    const next = turnEnd();
    expect(next).not.to.equal(first);
    await next;
  });

  it('asked in a check phase once the turn\'s end has settled, it is a later turn\'s (a waiter does not keep the loop in one phase)', async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      setImmediate(() => {
        void turnEnd().then(() => { order.push('turn end'); resolve(); });
      });
      // Queued for the same check phase as the callback above that asks: it runs before the end it asked for.
      setImmediate(() => order.push('immediate queued in the same phase'));
    });
    expect(order).to.deep.equal(['immediate queued in the same phase', 'turn end']);
  });
});

describe('answers held to the end of their turn (src/http/edge/turn_end_answers.ts)', () => {
  const ctx = {} as Parameters<typeof answerAtTurnEnd>[0];

  it('an answer ready in the turn its request arrived in waits for that turn\'s check phase', async () => {
    let handled = false;
    let answered = false;
    const step = Promise.resolve(answerAtTurnEnd(ctx, async () => { handled = true; })).then(() => { answered = true; });
    await drainTicks();
    expect(handled).to.equal(true);
    expect(answered, 'held while the turn lasts').to.equal(false);
    await step;
    expect(answered).to.equal(true);
  });

  it('an answer that waited for I/O into a later turn goes at once, not one more turn later', async () => {
    const order: string[] = [];
    await answerAtTurnEnd(ctx, async () => {
      await sleep(5);
      // Queued when the answer became ready: an answer held for the turn's end would come after it.
      setImmediate(() => order.push('check phase'));
    });
    order.push('answered');
    await turnEnd();
    expect(order).to.deep.equal(['answered', 'check phase']);
  });

  it('an error from the steps below goes on at once', async () => {
    const failure = new Error('from below');
    let caught: unknown;
    const step = Promise.resolve(answerAtTurnEnd(ctx, async () => { throw failure; })).catch((err: unknown) => { caught = err; });
    await drainTicks();
    expect(caught).to.equal(failure);
    await step;
  });
});
