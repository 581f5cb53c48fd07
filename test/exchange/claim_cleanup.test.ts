import { expect } from 'chai';
import { ClaimCleanup, type FailedClaim } from '../../src/exchange/claim_cleanup.js';
import { memoryLogger, sleep } from '../ratelimit/support.js';
import { until } from '../support/until.js';

/** A session store that answers the undo statements from a script, and counts them. */
function scriptedStore(answers: Array<boolean | Error>) {
  const calls: string[] = [];
  const next = async (kind: string): Promise<boolean> => {
    calls.push(kind);
    const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return {
    calls,
    store: {
      releaseClaim: (_id: string, _claimer: string) => next('release'),
      discardUnminted: (_id: string, _claimer: string) => next('discard'),
    },
  };
}

function claim(overrides: Partial<FailedClaim> = {}): FailedClaim {
  return { sessionRowId: 'ses_1', claimer: 'c1', created: false, until: Date.now() + 5_000, ...overrides };
}

/**
 * ClaimCleanup undoes the claims of session exchanges that failed half-way. The retry every 250 ms
 * is real time here (a few rounds at most).
 */
describe('exchange: undoing failed session claims', () => {
  let cleanup: ClaimCleanup | undefined;
  afterEach(() => cleanup?.close());

  it('releases a claim it knows it holds once: nothing to release means someone else took over', async () => {
    const { store, calls } = scriptedStore([false]);
    cleanup = new ClaimCleanup(store, memoryLogger().logger);
    cleanup.undo(claim());
    await sleep(600);
    expect(calls).to.deep.equal(['release']);
    expect(cleanup.size).to.equal(0);
  });

  it('keeps releasing a claim whose UPDATE outcome is unknown until it shows up (it may land late)', async () => {
    const { store, calls } = scriptedStore([false, false, true]);
    cleanup = new ClaimCleanup(store, memoryLogger().logger);
    cleanup.undo(claim({ outcomeUnknown: true }));
    await until('three attempts', () => calls.length === 3, 3_000);
    expect(calls).to.deep.equal(['release', 'release', 'release']);
    await until('nothing pending', () => cleanup!.size === 0, 1_000);
    await sleep(400);
    expect(calls, 'nothing more once released').to.have.length(3);
  });

  it('keeps deleting a new row whose INSERT outcome is unknown, and retries while the database refuses', async () => {
    const { store, calls } = scriptedStore([new Error('ECONNRESET'), false, true]);
    cleanup = new ClaimCleanup(store, memoryLogger().logger);
    cleanup.undo(claim({ created: true }));
    await until('three attempts', () => calls.length === 3, 3_000);
    expect(calls).to.deep.equal(['discard', 'discard', 'discard']);
    await until('nothing pending', () => cleanup!.size === 0, 1_000);
  });

  it('gives up once the claim has lapsed by itself', async () => {
    const { store, calls } = scriptedStore([false]);
    cleanup = new ClaimCleanup(store, memoryLogger().logger);
    cleanup.undo(claim({ outcomeUnknown: true, until: Date.now() + 300 }));
    await until('the lapse', () => cleanup!.size === 0 && calls.length >= 2, 3_000);
    const made = calls.length;
    await sleep(600);
    expect(calls.length, 'no attempt after the lapse').to.equal(made);
  });
});
