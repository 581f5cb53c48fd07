import { expect } from 'chai';
import { cpuMeter, readCpuSeconds } from '../../bench/lib/cpu.js';

/** Busy on the main thread for `ms` of wall time. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

/** The bench's CPU columns read this process's own counters here (/proc; Linux only, as the bench). */
describe('bench: CPU time of a process (bench/lib/cpu.ts)', () => {
  before(function () {
    if (readCpuSeconds(process.pid) === undefined) this.skip();
  });

  it('counts what the main thread ran, to well under a clock tick, and never more than the whole process', () => {
    const total = readCpuSeconds(process.pid)!;
    const main = readCpuSeconds(process.pid, true)!;
    const usage = process.cpuUsage();
    spin(30);
    const used = process.cpuUsage(usage);
    const mainDelta = (readCpuSeconds(process.pid, true)! - main) * 1e6;
    const totalDelta = (readCpuSeconds(process.pid)! - total) * 1e6;
    const usedUs = used.user + used.system;
    // The busy loop ran ~30 ms of CPU unless the machine took the core away; Node's own count of it
    // (all threads, µs) bounds the main thread's from above.
    expect(usedUs).to.be.greaterThan(5_000);
    expect(mainDelta).to.be.within(usedUs * 0.5, usedUs + 2_000);
    expect(totalDelta).to.be.at.least(mainDelta);
  });

  it('never puts the event loop above the total, however short the window', () => {
    for (let i = 0; i < 200; i += 1) {
      const meter = cpuMeter(process.pid);
      meter.start();
      spin(0.2);
      const perRequest = meter.perRequest(1)!;
      expect(perRequest.eventLoop).to.be.at.most(perRequest.total);
    }
  });
});
