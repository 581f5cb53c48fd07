/**
 * A mocha root-hook plugin for CI (.mocharc.cjs loads it when KEYPORT_TEST_PROGRESS names a file):
 * it makes a hung test process say where it hung instead of running until CI's own limit.
 *
 * - Progress: each test process appends "start <file>", "test <title>" and "end <file>" lines
 *   (with its pid) to that file, so a run that never finishes shows which files were still running
 *   and the last test each process began (.ci/run prints them when a run exceeds its time).
 * - Stall watch: mocha's timeouts are timers, so they cannot fire while the event loop never turns
 *   (a synchronous wait, or an endless chain of promises that resolve without I/O, as better-sqlite3's
 *   do). A thread of the test process watches a heartbeat the event loop writes each second; after
 *   STALL_MS without one it pauses the main thread through the inspector, writes the JavaScript stack
 *   it was running to stderr and to the progress file, and kills the process: mocha then fails that
 *   file ("terminated unexpectedly") and goes on with the others.
 */
import { appendFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

// A stall this long is no slow test: tests wait on timers, sockets or child processes, all of
// which turn the loop. KEYPORT_TEST_STALL_MS shortens it for hang_watch's own test.
const STALL_MS = Number(process.env.KEYPORT_TEST_STALL_MS) || 60_000;

const progressFile = process.env.KEYPORT_TEST_PROGRESS;

function record(line: string): void {
  if (progressFile) appendFileSync(progressFile, `${new Date().toISOString()} ${process.pid} ${line}\n`);
}

let watching = false;

/** Starts the heartbeat and its watching thread, once per process that runs tests. */
function watchForStalls(): void {
  if (watching) return;
  watching = true;
  const beats = new Int32Array(new SharedArrayBuffer(4));
  setInterval(() => Atomics.add(beats, 0, 1), 1000).unref();
  const watcher = new Worker(new URL('./hang_watch_thread.js', import.meta.url), { workerData: { beats, stallMs: STALL_MS, progressFile } });
  watcher.unref();
}

let currentFile = '';

// Without a progress file (a local `npm test`) the plugin stays out of the way entirely.
export const mochaHooks = !progressFile
  ? {}
  : {
      beforeAll(this: Mocha.Context) {
        // In parallel mode each file runs in a Mocha instance of its own: the root suite holds one file.
        currentFile = this.test?.parent?.suites[0]?.file ?? '(unknown file)';
        watchForStalls();
        record(`start ${currentFile}`);
      },
      beforeEach(this: Mocha.Context) {
        record(`test ${this.currentTest?.fullTitle() ?? '(unknown test)'}`);
      },
      afterAll() {
        record(`end ${currentFile}`);
      },
    };
