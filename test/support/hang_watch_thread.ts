/**
 * The watching thread of hang_watch.ts: when the main thread's heartbeat stops for `stallMs`, it
 * takes the main thread's JavaScript stack through the inspector, reports it and kills the process.
 */
import { appendFileSync, writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';

const { beats, stallMs, progressFile } = workerData as { beats: Int32Array; stallMs: number; progressFile?: string };

interface CallFrame {
  functionName: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

function report(text: string): void {
  writeSync(2, text);
  if (progressFile) appendFileSync(progressFile, text);
}

/** The main thread's stack, or undefined when it does not reach JavaScript within `waitMs` (blocked in native code). */
function mainThreadStack(waitMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const session = new Session();
    session.connectToMainThread();
    const timer = setTimeout(() => resolve(undefined), waitMs);
    // Frames name their script by id; Debugger.enable announces every loaded script with its URL.
    const scripts = new Map<string, string>();
    session.on('Debugger.scriptParsed', (message) => scripts.set(message.params.scriptId, message.params.url));
    session.on('Debugger.paused', (message) => {
      clearTimeout(timer);
      const frames = (message.params as { callFrames: CallFrame[] }).callFrames;
      const where = (frame: CallFrame) => `${scripts.get(frame.location.scriptId) || '?'}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1}`;
      resolve(frames.map((frame) => `    at ${frame.functionName || '(anonymous)'} (${where(frame)})`).join('\n'));
    });
    session.post('Debugger.enable', () => session.post('Debugger.pause'));
  });
}

let lastBeat = Atomics.load(beats, 0);
let lastChange = performance.now();
const check = setInterval(async () => {
  const beat = Atomics.load(beats, 0);
  if (beat !== lastBeat) {
    lastBeat = beat;
    lastChange = performance.now();
    return;
  }
  if (performance.now() - lastChange < stallMs) return;
  clearInterval(check);
  const stack = await mainThreadStack(10_000);
  report(
    `${new Date().toISOString()} ${process.pid} stall: the event loop did not turn for ${Math.round((performance.now() - lastChange) / 1000)} s; ` +
      `killing this test process. The main thread was running:\n${stack ?? '    (no JavaScript within 10 s: blocked in native code)'}\n`,
  );
  process.kill(process.pid, 'SIGKILL');
}, 1000);
