import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on every Linux build that matters). */
const USER_HZ = 100;

/**
 * CPU seconds (user + system) a process has used so far, all threads; with `mainThreadOnly`, only
 * its main thread (for Node, the event loop plus whatever it runs synchronously). Undefined without /proc.
 */
export function readCpuSeconds(pid: number, mainThreadOnly = false): number | undefined {
  try {
    const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

export interface CpuPerRequest {
  /** All threads: the event loop, libuv's pool (WebCrypto signing, file I/O), V8's GC helpers. */
  readonly total: number;
  /** The main thread alone: the event loop, the resource a Node server runs out of first. */
  readonly eventLoop: number;
}

/**
 * CPU a server process spends per request over the measured window. It moves far less than req/s
 * when something else on the machine takes CPU time (another test run, a compiler), so it is the
 * number to compare between runs on a shared machine; req/s stays the headline.
 */
export function cpuMeter(pid: number | undefined): { start(): void; perRequest(requests: number): CpuPerRequest | undefined } {
  let started: { total: number; eventLoop: number } | undefined;
  const read = (): { total: number; eventLoop: number } | undefined => {
    if (pid === undefined) return undefined;
    // The main thread first: the process total read after it can only be larger.
    const eventLoop = readCpuSeconds(pid, true);
    const total = readCpuSeconds(pid);
    return total === undefined || eventLoop === undefined ? undefined : { total, eventLoop };
  };
  return {
    start() {
      started = read();
    },
    perRequest(requests) {
      const now = read();
      if (!started || !now || requests <= 0) return undefined;
      return { total: ((now.total - started.total) * 1e6) / requests, eventLoop: ((now.eventLoop - started.eventLoop) * 1e6) / requests };
    },
  };
}
