import { expect } from 'chai';
import { epochSeconds, systemClock } from '../../src/lib/clock.js';
import { Lifecycle } from '../../src/lib/lifecycle.js';
import { fakeWallClock, manualClock } from '../support/time.js';

describe('the clock (src/lib/clock.ts) and the test clocks (test/support/time.ts)', () => {
  it('a manual clock moves only when told, and leaves Date alone', () => {
    const clock = manualClock(1_000_000);
    expect(clock.now()).to.equal(1_000_000);
    clock.advance(1500);
    expect(clock.now()).to.equal(1_001_500);
    expect(epochSeconds(clock)).to.equal(1001);
    expect(Math.abs(Date.now() - systemClock.now())).to.be.below(1000);
  });

  it('a fake wall clock moves Date, and with it the system clock, until uninstalled', () => {
    const real = Date.now();
    const wall = fakeWallClock(5_000_000);
    try {
      expect(systemClock.now()).to.equal(5_000_000);
      wall.advance(60_000);
      expect(Date.now()).to.equal(5_060_000);
      expect(wall.now()).to.equal(5_060_000);
    } finally {
      wall.uninstall();
    }
    expect(Date.now()).to.be.at.least(real);
  });

  it('the lifecycle takes "draining since" from the clock it was given', () => {
    const clock = manualClock(42_000);
    const lifecycle = new Lifecycle(clock);
    expect(lifecycle.draining).to.equal(false);
    lifecycle.beginDrain();
    clock.advance(10);
    lifecycle.beginDrain();
    expect(lifecycle.drainingSince, 'the first call counts').to.equal(42_000);
    expect(lifecycle.draining).to.equal(true);
  });
});
