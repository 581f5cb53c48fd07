import { expect } from 'chai';
import { ReusedSlots } from '../../src/lib/reused_slots.js';

/** src/lib/reused_slots.ts: the drain's responses in flight and the exchange's single flights. */
describe('lib: values held in reused slots', () => {
  it('holds what was added and not yet removed, in any order, and reuses emptied slots', () => {
    const held = new ReusedSlots<string>();
    const slotA = held.add('a');
    const slotB = held.add('b');
    const slotC = held.add('c');
    expect(held.size).to.equal(3);
    expect(held.get(slotB)).to.equal('b');
    held.remove(slotB);
    expect(held.get(slotB)).to.equal(undefined);
    expect([...held]).to.deep.equal(['a', 'c']);
    // The emptied slot is taken again before the array grows.
    expect(held.add('d')).to.equal(slotB);
    expect(held.get(slotB)).to.equal('d');
    expect([...held]).to.have.members(['a', 'c', 'd']);
    held.remove(slotA);
    held.remove(slotC);
    expect([...held]).to.deep.equal(['d']);
    expect(held.size).to.equal(1);
  });

  it('removing a slot twice does not count twice or free it twice', () => {
    const held = new ReusedSlots<string>();
    const slot = held.add('a');
    held.remove(slot);
    held.remove(slot);
    expect(held.size).to.equal(0);
    const first = held.add('b');
    const second = held.add('c');
    expect(first).to.not.equal(second);
    expect(held.size).to.equal(2);
  });

  it('stays as large as the most values ever held at once', () => {
    const held = new ReusedSlots<string>();
    for (let round = 0; round < 100; round += 1) {
      const slots = Array.from({ length: 32 }, (_, index) => held.add(`${round}.${index}`));
      expect(Math.max(...slots)).to.be.below(32);
      for (const slot of slots) held.remove(slot);
    }
    expect(held.size).to.equal(0);
    expect([...held]).to.deep.equal([]);
  });
});
