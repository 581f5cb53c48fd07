import { expect } from 'chai';
import { cpuMeter, processCpuMeter, readCpuSeconds } from '../../bench/lib/cpu.js';

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
    // Three spins: stat's meter moves in whole 10 ms ticks, so each of its readings is a multiple
    // of 10,000 µs; schedstat's is not, but one reading in 10,000 may land within 1 µs of one.
    const offTick: boolean[] = [];
    for (let i = 0; i < 3; i += 1) {
      // Each window inside the one it is bounded by: Node's count around the process total, the
      // process total around the main thread. (With Node's count read inside the main thread's
      // window, whatever ran on the main thread between the reads, a GC say, counted against the
      // bound: 25,667 µs against 23,637 + 2,000 once in CI.)
      const usage = process.cpuUsage();
      const total = readCpuSeconds(process.pid)!;
      const main = readCpuSeconds(process.pid, true)!;
      spin(30);
      const mainDelta = (readCpuSeconds(process.pid, true)! - main) * 1e6;
      const totalDelta = (readCpuSeconds(process.pid)! - total) * 1e6;
      const used = process.cpuUsage(usage);
      // Node's own count covers every thread of the process, so it bounds the main thread's from
      // above only: how much of the 30 ms the main thread got depends on what else the machine
      // (and this process's other threads) ran meanwhile, so there is no lower bound but zero.
      expect(mainDelta).to.be.greaterThan(0);
      expect(mainDelta).to.be.at.most(used.user + used.system + 2_000);
      // Equal when no other thread ran; the two differences of float seconds may then differ in the
      // last bits (a CI run: 4156.851999999489 against 4156.8519999999335 µs).
      expect(totalDelta).to.be.at.least(mainDelta - 1e-6);
      const fromTick = mainDelta % 10_000;
      offTick.push(Math.min(fromTick, 10_000 - fromTick) > 1);
    }
    expect(offTick, 'finer than a 10 ms clock tick').to.include(true);
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

  it('counts a process whose threads come and go from its own total, never below zero', async () => {
    const meter = processCpuMeter(process.pid);
    meter.start();
    // A worker thread that works and ends: its time stays in the process's total. A fixed amount of
    // work (~30–60 ms of CPU here), not a wall-clock spin, so a busy machine cannot shrink it.
    const { Worker } = await import('node:worker_threads');
    await new Promise((resolve, reject) => {
      const worker = new Worker('let x = 0; for (let i = 0; i < 3e7; i += 1) x += Math.sqrt(i); if (x < 0) throw new Error();', { eval: true });
      worker.once('exit', resolve);
      worker.once('error', reject);
    });
    expect(meter.perRequest(1)).to.be.at.least(10_000);
    expect(processCpuMeter(undefined).perRequest(1)).to.equal(undefined);
  });
});
