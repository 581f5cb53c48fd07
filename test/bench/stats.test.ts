import { expect } from 'chai';
import { median } from '../../bench/lib/stats.js';

/** bench/lib/stats.ts: what `bench:ab` reports over its rounds. */
describe('bench: median', () => {
  it('is the middle value of an odd count, in any order', () => {
    expect(median([3])).to.equal(3);
    expect(median([9, 1, 5])).to.equal(5);
  });

  it('is the mean of the two middle values of an even count, not the upper one', () => {
    // Four rounds of an A/B: ratios 0.84, 0.92, 1.45, 1.78 → between the 2nd and the 3rd.
    expect(median([1.45, 0.92, 0.84, 1.78])).to.be.closeTo(1.185, 1e-9);
    expect(median([2, 1])).to.equal(1.5);
  });

  it('does not reorder what it is given, and refuses no values', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).to.deep.equal([3, 1, 2]);
    expect(() => median([])).to.throw('median of no values');
  });
});
