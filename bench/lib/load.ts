import autocannon from 'autocannon';
import { cpuMeter, processCpuMeter, type CpuPerRequest } from './cpu.js';

/** What one scenario run produced, whatever drove the load. */
export interface Measurement {
  /** Successful (2xx, or completed flows) per second; failures never count as throughput. */
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly completed: number;
  /** Connection errors, timeouts and non-2xx answers (failed flows for scenario 8). */
  readonly errors: number;
  /** Non-2xx status codes and how often they came, e.g. `{ "429": 12 }`. */
  readonly failures: Readonly<Record<string, number>>;
  readonly seconds: number;
  /** Server CPU time (user + system, µs) per answered request over the measured window, when known. */
  readonly cpuPerRequest?: CpuPerRequest;
  /**
   * The database server's CPU time (all its threads, µs) per answered request over the same window,
   * when it runs on this machine as a process of its own (MySQL/MariaDB on a loopback address).
   * SQLite runs inside Keyport: its work is in `cpuPerRequest`.
   */
  readonly databaseCpuPerRequest?: number;
}

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly requests: autocannon.Request[];
}

interface Run {
  readonly result: autocannon.Result;
  /** Latencies of the 2xx answers in ms, unrounded (autocannon's own histogram keeps whole ms). */
  readonly latencies: Float64Array | undefined;
}

function runOnce(spec: LoadSpec, limit: { duration: number } | { amount: number }, recordLatencies: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(recordLatencies ? 65_536 : 0);
    let count = 0;
    const instance = autocannon({ url: spec.url, connections: spec.connections, pipelining: 1, timeout: 10, requests: spec.requests, ...limit }, (err, result) => {
      if (err) reject(err);
      else resolve({ result, latencies: recordLatencies ? latencies.subarray(0, count) : undefined });
    });
    if (recordLatencies) {
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
        if (status < 200 || status > 299) return;
        if (count === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[count++] = ms;
      });
    }
  });
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function toMeasurement({ result, latencies }: Run): Measurement {
  const failures: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) {
    if (!status.startsWith('2')) failures[status] = count;
  }
  if (result.errors) failures.error = result.errors;
  if (result.timeouts) failures.timeout = result.timeouts;
  const seconds = result.duration > 0 ? result.duration : 1;
  const sorted = latencies ? latencies.slice().sort() : undefined;
  return {
    perSecond: result['2xx'] / seconds,
    p50Ms: sorted?.length ? percentile(sorted, 50) : result.latency.p50,
    p99Ms: sorted?.length ? percentile(sorted, 99) : result.latency.p99,
    completed: result['2xx'],
    errors: result.errors + result.timeouts + result.non2xx,
    failures,
    seconds,
  };
}

/**
 * Drives HTTP load with autocannon in this process (the load generator shares the host, as the
 * issue's targets assume): a discarded warm-up, then the measured run.
 */
export async function measureLoad(spec: LoadSpec, durationS: number, warmupS: number, serverPid?: number, databasePid?: number): Promise<Measurement> {
  if (warmupS > 0) await runOnce(spec, { duration: warmupS }, false);
  const cpu = cpuMeter(serverPid);
  const databaseCpu = processCpuMeter(databasePid);
  databaseCpu.start();
  cpu.start();
  const measurement = toMeasurement(await runOnce(spec, { duration: durationS }, true));
  const answered = measurement.completed + measurement.errors;
  const cpuPerRequest = cpu.perRequest(answered);
  const databaseCpuPerRequest = databaseCpu.perRequest(answered);
  return { ...measurement, cpuPerRequest, ...(databaseCpuPerRequest === undefined ? {} : { databaseCpuPerRequest }) };
}

/** Sends exactly `amount` requests (used to fill the database for the large measurement). */
export async function sendAmount(spec: LoadSpec, amount: number): Promise<Measurement> {
  return toMeasurement(await runOnce(spec, { amount }, false));
}
