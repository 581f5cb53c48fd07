import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface MemorySample {
  /** Resident set size now, in bytes. */
  readonly rss: number;
  /** The kernel's high-water mark of the RSS since the process started (Linux only). */
  readonly hwm: number | undefined;
}

/** Reads VmRSS and VmHWM from /proc/<pid>/status; `ps` where there is no /proc. */
export function readMemory(pid: number): MemorySample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number | undefined => {
      const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
      return match ? Number(match[1]) * 1024 : undefined;
    };
    const rss = kb('VmRSS');
    return rss === undefined ? undefined : { rss, hwm: kb('VmHWM') };
  } catch {
    try {
      const kb = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim());
      return Number.isFinite(kb) && kb > 0 ? { rss: kb * 1024, hwm: undefined } : undefined;
    } catch {
      return undefined;
    }
  }
}

export interface MemoryReport {
  /** Highest VmRSS seen while sampling, in bytes. */
  readonly peakRss: number | undefined;
  /** VmHWM when sampling stopped: the process's peak since it started. */
  readonly hwm: number | undefined;
  readonly samples: number;
}

/** Samples a process's memory every `intervalMs` until stopped (the peak of a scenario). */
export function sampleMemory(pid: number, intervalMs = 200): { stop(): MemoryReport } {
  let peakRss: number | undefined;
  let hwm: number | undefined;
  let samples = 0;
  const take = (): void => {
    const sample = readMemory(pid);
    if (!sample) return;
    samples += 1;
    peakRss = Math.max(peakRss ?? 0, sample.rss);
    if (sample.hwm !== undefined) hwm = sample.hwm;
  };
  take();
  const timer = setInterval(take, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peakRss, hwm, samples };
    },
  };
}

export const toMb = (bytes: number | undefined): number | undefined => (bytes === undefined ? undefined : bytes / (1024 * 1024));
