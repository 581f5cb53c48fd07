import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on every Linux build that matters). */
const USER_HZ = 100;

/** Nanoseconds a thread has run on a CPU (`schedstat`'s first field); undefined where the kernel does not keep it. */
function threadRunNs(pid: number, tid: number | string): number | undefined {
  try {
    const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns : undefined;
  } catch {
    return undefined;
  }
}

/** CPU nanoseconds from /proc/<pid>/stat (or the main thread's own stat), in whole clock ticks. */
function statCpuNs(pid: number, mainThreadOnly: boolean): number | undefined {
  try {
    const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1e9) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) a process has used so far, all threads; with `mainThreadOnly`, only
 * its main thread (for Node, the event loop plus whatever it runs synchronously). Undefined without /proc.
 *
 * From the threads' `schedstat` where the kernel keeps it: nanoseconds, exact, the total the sum of
 * the live threads (a Node server's threads live as long as it does). `stat`'s clock ticks are the
 * fallback: over a short window (a quick run's dozen requests) a 10 ms tick is most of the figure,
 * and the main thread's ticks and the process's are rounded apart, so the event loop could come
 * out larger than the whole (1,667 against 833 µs a request, seen once in CI).
 */
export function readCpuSeconds(pid: number, mainThreadOnly = false): number | undefined {
  const ns = readCpuNs(pid, mainThreadOnly);
  return ns === undefined ? undefined : ns / 1e9;
}

/** `readCpuSeconds` in whole nanoseconds, so that differences are exact. */
function readCpuNs(pid: number, mainThreadOnly: boolean): number | undefined {
  if (mainThreadOnly) return threadRunNs(pid, pid) ?? statCpuNs(pid, true);
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let total = 0;
  for (const tid of tids) {
    const ns = threadRunNs(pid, tid);
    // A thread that ended between the listing and the read ran no more; any other gap means no schedstat here.
    if (ns === undefined) {
      if (tid === String(pid)) return statCpuNs(pid, false);
      continue;
    }
    total += ns;
  }
  return total;
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
  // The two counters cannot be read at the same instant. Reading the process total first at the start
  // and last at the end puts both main-thread reads inside the total's window, so the main thread's
  // share can never come out larger than the total (the other order let a tick the main thread ran
  // between the two reads at the start count for it alone: 1,667 µs (loop) against 833 µs (all) over
  // the 11 requests of a quick run).
  const read = (order: 'total first' | 'main thread first'): { total: number; eventLoop: number } | undefined => {
    if (pid === undefined) return undefined;
    let total: number | undefined;
    if (order === 'total first') total = readCpuNs(pid, false);
    const eventLoop = readCpuNs(pid, true);
    if (order === 'main thread first') total = readCpuNs(pid, false);
    return total === undefined || eventLoop === undefined ? undefined : { total, eventLoop };
  };
  return {
    start() {
      started = read('total first');
    },
    perRequest(requests) {
      const now = read('main thread first');
      if (!started || !now || requests <= 0) return undefined;
      // Whole nanoseconds subtracted exactly, then both divided alike: the order between them holds.
      return { total: (now.total - started.total) / 1000 / requests, eventLoop: (now.eventLoop - started.eventLoop) / 1000 / requests };
    },
  };
}

/**
 * CPU time per request of a process whose threads come and go, such as a MySQL/MariaDB server (a
 * thread per connection, a thread cache): the process's own total from /proc/<pid>/stat, which
 * keeps the time of threads that have ended. Summing the live threads' schedstat (as `cpuMeter`
 * does for a Node server, whose threads live as long as it does) loses an ended thread's time and
 * came out negative once (-1,030 µs a request). Whole 10 ms ticks: fine over a measured window of
 * seconds and thousands of requests, not over a handful.
 */
export function processCpuMeter(pid: number | undefined): { start(): void; perRequest(requests: number): number | undefined } {
  let started: number | undefined;
  return {
    start() {
      started = pid === undefined ? undefined : statCpuNs(pid, false);
    },
    perRequest(requests) {
      const now = pid === undefined ? undefined : statCpuNs(pid, false);
      if (started === undefined || now === undefined || requests <= 0) return undefined;
      return (now - started) / 1000 / requests;
    },
  };
}
