import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { InFlightResponses } from '../../src/http/in_flight_responses.js';

const response = (name: string): ServerResponse => ({ name }) as unknown as ServerResponse;

/** src/http/in_flight_responses.ts: what the drain answers with `Connection: close`. */
describe('http: the responses in flight (drain)', () => {
  it('holds what was added and not yet removed, in any order, and reuses emptied slots', () => {
    const inFlight = new InFlightResponses();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(response);
    const slotA = inFlight.add(a!);
    const slotB = inFlight.add(b!);
    const slotC = inFlight.add(c!);
    expect(inFlight.size).to.equal(3);
    inFlight.remove(slotB);
    expect([...inFlight]).to.deep.equal([a, c]);
    // The emptied slot is taken again before the array grows.
    expect(inFlight.add(d!)).to.equal(slotB);
    expect([...inFlight]).to.have.members([a, c, d]);
    inFlight.remove(slotA);
    inFlight.remove(slotC);
    expect([...inFlight]).to.deep.equal([d]);
    expect(inFlight.size).to.equal(1);
  });

  it('removing a slot twice does not count twice or free it twice', () => {
    const inFlight = new InFlightResponses();
    const slot = inFlight.add(response('a'));
    inFlight.remove(slot);
    inFlight.remove(slot);
    expect(inFlight.size).to.equal(0);
    const first = inFlight.add(response('b'));
    const second = inFlight.add(response('c'));
    expect(first).to.not.equal(second);
    expect(inFlight.size).to.equal(2);
  });

  it('stays as large as the most responses ever in flight at once', () => {
    const inFlight = new InFlightResponses();
    for (let round = 0; round < 100; round += 1) {
      const slots = Array.from({ length: 32 }, (_, index) => inFlight.add(response(`${round}.${index}`)));
      expect(Math.max(...slots)).to.be.below(32);
      for (const slot of slots) inFlight.remove(slot);
    }
    expect(inFlight.size).to.equal(0);
    expect([...inFlight]).to.deep.equal([]);
  });
});
