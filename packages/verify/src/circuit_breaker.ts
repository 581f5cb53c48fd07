export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  readonly failureThreshold: number;
  /** How long an open circuit refuses calls before it lets one probe through. */
  readonly cooldownMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/** Thrown instead of calling while the circuit is open. */
export class CircuitOpenError extends Error {
  constructor(readonly retryAfterMs: number) {
    super('the introspection endpoint is failing; not calling it until the cool-down ends');
    this.name = 'CircuitOpenError';
  }
}

/**
 * Stops calling a dependency that keeps failing: after `failureThreshold` consecutive failures
 * every call fails at once for `cooldownMs`, then one probe call is let through (half-open); its
 * success closes the circuit, its failure opens it for another cool-down. So a stalled Keyport
 * costs each request a fast 503 instead of a timeout, and gets one request, not a stampede, when
 * it comes back.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(private readonly options: CircuitBreakerOptions, private readonly now: () => number = Date.now) {}

  get state(): CircuitState {
    if (this.failures < this.options.failureThreshold) return 'closed';
    return this.openUntil > this.now() ? 'open' : 'half-open';
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === 'open') throw new CircuitOpenError(this.openUntil - this.now());
    const probe = state === 'half-open';
    if (probe) {
      // One probe at a time; the others fail fast until it has answered.
      if (this.probing) throw new CircuitOpenError(1000);
      this.probing = true;
    }
    try {
      const result = await call();
      this.failures = 0;
      this.openUntil = 0;
      return result;
    } catch (error) {
      this.failures += 1;
      if (this.failures >= this.options.failureThreshold) this.openUntil = this.now() + this.options.cooldownMs;
      throw error;
    } finally {
      if (probe) this.probing = false;
    }
  }
}
