import { performance } from 'node:perf_hooks';
import type { Logger } from './logger.js';

/**
 * - closed: calls go to the dependency;
 * - open: calls skip it (the caller answers from its fallback at once); a probe runs in the
 *   background every `probeIntervalMs`;
 * - half-open: a probe is in flight; calls still skip the dependency until it answers.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Names the dependency in log lines. */
  readonly name: string;
  /** Consecutive failures (errors or timeouts) that open the circuit. */
  readonly failureThreshold: number;
  /** Pause between probes while open. */
  readonly probeIntervalMs: number;
  /** A cheap call that resolves once the dependency answers again; it must time out by itself. */
  readonly probe: () => Promise<unknown>;
  readonly logger: Logger;
}

/**
 * Stops calling a dependency that keeps failing. Without it, a frozen Redis cost every
 * rate-limited request its command timeout (1 s) for as long as the freeze lasted, because each
 * command had to time out before the in-memory fallback answered. Callers ask `allowsCalls`
 * before calling and report each outcome; after `failureThreshold` failures in a row the circuit
 * opens, and it closes when a background probe (the first at once, then every `probeIntervalMs`)
 * gets an answer.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  /** `performance.now()` when the circuit opened: only how long it stayed open is reported. */
  private openedAt = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly listeners: Array<(state: CircuitState) => void> = [];

  constructor(private readonly options: CircuitBreakerOptions) {}

  get state(): CircuitState {
    return this.current;
  }

  /** False while the circuit is open or half-open: skip the dependency, use the fallback. */
  get allowsCalls(): boolean {
    return this.current === 'closed';
  }

  /** A call answered. */
  succeeded(): void {
    this.failures = 0;
  }

  /** A call failed or timed out. */
  failed(reason?: unknown): void {
    if (this.current !== 'closed') return;
    this.failures += 1;
    if (this.failures < this.options.failureThreshold) return;
    this.current = 'open';
    this.openedAt = performance.now();
    this.options.logger.warn(`${this.options.name}: circuit open after ${this.failures} failures in a row; not called until a probe (every ${this.options.probeIntervalMs} ms) gets an answer`, {
      reason: reason instanceof Error ? reason.message : reason === undefined ? undefined : String(reason),
    });
    this.notify();
    // The first probe goes at once: the circuit often opens just as the dependency comes back.
    this.scheduleProbe(0);
  }

  /**
   * A hint that the dependency may be back (e.g. its client reconnected): probe now instead of at
   * the next interval. Does nothing while closed or while a probe runs.
   */
  probeSoon(): void {
    if (this.current !== 'open' || this.stopped) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.scheduleProbe(0);
  }

  /** Called with the new state whenever it changes between closed and open. */
  onChange(listener: (state: CircuitState) => void): void {
    this.listeners.push(listener);
  }

  /** Stops probing (shutdown). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  private scheduleProbe(delayMs = this.options.probeIntervalMs): void {
    if (this.stopped || this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe();
    }, delayMs);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    if (this.stopped || this.current !== 'open') return;
    this.current = 'half-open';
    try {
      await this.options.probe();
    } catch {
      if (this.current === 'half-open') this.current = 'open';
      this.scheduleProbe();
      return;
    }
    if (this.stopped) return;
    this.current = 'closed';
    this.failures = 0;
    this.options.logger.info(`${this.options.name}: answering again; circuit closed`, { open_ms: Math.round(performance.now() - this.openedAt) });
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener(this.current);
      } catch (err) {
        this.options.logger.error(`${this.options.name}: a circuit listener failed`, { err });
      }
    }
  }
}
