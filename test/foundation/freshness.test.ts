import FakeTimers, { type Clock as FakeClock } from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { FreshnessGate } from '../../src/lib/freshness.js';

/** A look whose end the test decides. */
class ControlledLooks {
  readonly started: number[] = [];
  private readonly ends: Array<() => void> = [];

  readonly look = (startedAt: number): Promise<void> => {
    this.started.push(startedAt);
    return new Promise((resolve) => { this.ends.push(resolve); });
  };

  /** Ends the oldest look still running. */
  finishOne(): void {
    this.ends.shift()?.();
  }
}

/** Lets the promise callbacks queued so far run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('FreshnessGate (the one freshness/sweep mechanism)', () => {
  let now: number;
  const clock = { now: () => now };
  beforeEach(() => { now = 1_700_000_000_000; });

  describe('without a change counter: at most every intervalMs', () => {
    it('looks at the first check, trusts the cache for intervalMs after the look started, then looks again', async () => {
      const looks: number[] = [];
      const gate = new FreshnessGate(250, async (startedAt) => { looks.push(startedAt); }, undefined, { clock });
      const first = gate.ensureFresh();
      expect(first).to.be.instanceOf(Promise);
      await first;
      expect(looks).to.deep.equal([now]);
      now += 249;
      expect(gate.ensureFresh(), 'within the interval').to.equal(undefined);
      now += 1;
      await gate.ensureFresh();
      expect(looks).to.deep.equal([now - 250, now]);
    });

    it('judges the instant the caller passes, else the clock it was given', async () => {
      let looks = 0;
      const gate = new FreshnessGate(250, async () => { looks += 1; }, undefined, { clock });
      await gate.ensureFresh();
      expect(gate.ensureFresh(now + 100)).to.equal(undefined);
      await gate.ensureFresh(now + 250);
      expect(looks).to.equal(2);
    });

    it('a check while the look runs, within the interval, does not wait for it', async () => {
      const looks = new ControlledLooks();
      const gate = new FreshnessGate(250, looks.look, undefined, { clock });
      const a = gate.ensureFresh();
      now += 10;
      const b = gate.ensureFresh();
      expect(b, 'the look just started: within the interval').to.equal(undefined);
      expect(looks.started).to.have.length(1);
      looks.finishOne();
      await a;
    });

    it('by default a caller after the interval waits for a look started after it asked, not the one running', async () => {
      const looks = new ControlledLooks();
      const gate = new FreshnessGate(250, looks.look, undefined, { clock });
      const first = gate.ensureFresh()!;
      now += 300; // the first look is slow: the interval has passed while it runs
      const second = gate.ensureFresh()!;
      const third = gate.ensureFresh()!;
      expect(third, 'callers queued behind the running look share the next one').to.equal(second);
      let secondDone = false;
      void second.then(() => { secondDone = true; });
      looks.finishOne();
      await first;
      await settle();
      expect(secondDone, 'the first look began before the second caller asked').to.equal(false);
      expect(looks.started).to.deep.equal([now - 300, now]);
      looks.finishOne();
      await second;
    });

    it('with joinRunningLook a caller after the interval waits for the look already running (one query, not two)', async () => {
      const looks = new ControlledLooks();
      const gate = new FreshnessGate(250, looks.look, undefined, { clock, joinRunningLook: true });
      const first = gate.ensureFresh()!;
      now += 300;
      const second = gate.ensureFresh()!;
      expect(second).to.equal(first);
      looks.finishOne();
      await second;
      expect(looks.started).to.have.length(1);
      expect(gate.ensureFresh(), 'the interval since that look has passed: the next check looks').to.be.instanceOf(Promise);
      looks.finishOne();
    });

    it('a look that failed (and handled it) is tried again after the interval, not before', async () => {
      let attempts = 0;
      const gate = new FreshnessGate(250, async () => { attempts += 1; }, undefined, { clock });
      await gate.ensureFresh();
      expect(gate.ensureFresh()).to.equal(undefined);
      now += 250;
      await gate.ensureFresh();
      expect(attempts).to.equal(2);
    });

    it('expire() makes the next check look at once', async () => {
      let looks = 0;
      const gate = new FreshnessGate(60_000, async () => { looks += 1; }, undefined, { clock });
      await gate.ensureFresh();
      expect(gate.ensureFresh()).to.equal(undefined);
      gate.expire();
      await gate.ensureFresh();
      expect(looks).to.equal(2);
    });
  });

  describe('with a change counter (SQLite data_version)', () => {
    it('looks only when the counter moved since the last look, whatever the time', async () => {
      let version = 7;
      let looks = 0;
      const gate = new FreshnessGate(250, async () => { looks += 1; }, () => version, { clock });
      await gate.ensureFresh();
      now += 3_600_000;
      expect(gate.ensureFresh(), 'an hour later, nothing committed elsewhere').to.equal(undefined);
      version += 1;
      await gate.ensureFresh();
      expect(looks).to.equal(2);
      expect(gate.ensureFresh()).to.equal(undefined);
    });

    it('reads the counter before the look: a commit during the look makes the next check look again', async () => {
      let version = 1;
      const looks = new ControlledLooks();
      const gate = new FreshnessGate(250, looks.look, () => version, { clock });
      const first = gate.ensureFresh()!;
      version += 1; // committed elsewhere while the look's query runs
      looks.finishOne();
      await first;
      const again = gate.ensureFresh();
      expect(again).to.be.instanceOf(Promise);
      looks.finishOne();
      await again;
      expect(gate.ensureFresh()).to.equal(undefined);
    });

    it('a caller that finds the counter moved during a look waits for the next look', async () => {
      let version = 1;
      const looks = new ControlledLooks();
      const gate = new FreshnessGate(250, looks.look, () => version, { clock });
      const first = gate.ensureFresh()!;
      version += 1;
      const second = gate.ensureFresh()!;
      expect(second).not.to.equal(first);
      looks.finishOne();
      await first;
      await settle();
      expect(looks.started, 'the second look starts once the first has ended').to.have.length(2);
      looks.finishOne();
      await second;
    });

    it('expire() forgets the reading', async () => {
      let looks = 0;
      const gate = new FreshnessGate(250, async () => { looks += 1; }, () => 1, { clock });
      await gate.ensureFresh();
      gate.expire();
      await gate.ensureFresh();
      expect(looks).to.equal(2);
    });
  });

  describe('idle', () => {
    let fake: FakeClock;
    afterEach(() => fake.uninstall());

    it('arms no timer and makes no look until a caller asks; defaults to the system clock', async () => {
      fake = FakeTimers.install({ now: 5_000_000 });
      const looks: number[] = [];
      const gate = new FreshnessGate(250, async (startedAt) => { looks.push(startedAt); });
      fake.tick(10_000);
      expect(looks).to.deep.equal([]);
      expect(fake.countTimers()).to.equal(0);
      await gate.ensureFresh();
      expect(looks).to.deep.equal([5_010_000]);
      expect(fake.countTimers()).to.equal(0);
    });
  });
});
