import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on every Linux build that matters). */
const USER_HZ = 100;

/** CPU seconds (user + system) a process has used so far; undefined without /proc. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU a server process spends per request over the measured window. Unlike req/s, this hardly
 * moves when something else on the machine takes CPU time (another test run, a compiler), so it
 * is the number to compare between runs of a noisy shared machine; req/s stays the headline.
 */
export function cpuMeter(pid: number | undefined): { start(): void; microsecondsPer(requests: number): number | undefined } {
  let started: number | undefined;
  return {
    start() {
      started = pid === undefined ? undefined : readCpuSeconds(pid);
    },
    microsecondsPer(requests) {
      const now = pid === undefined ? undefined : readCpuSeconds(pid);
      if (started === undefined || now === undefined || requests <= 0) return undefined;
      return ((now - started) * 1e6) / requests;
    },
  };
}
