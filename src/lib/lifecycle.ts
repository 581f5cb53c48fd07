import { type Clock, systemClock } from './clock.js';

/**
 * Where this instance is in its life: serving, or draining for shutdown (SIGTERM/SIGINT). While
 * draining, `/readyz` answers 503 and every response carries `Connection: close` (src/http/drain.ts,
 * at the HTTP server).
 */
export class Lifecycle {
  private drainStartedAt: number | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  get draining(): boolean {
    return this.drainStartedAt !== undefined;
  }

  /** Epoch ms when draining began; undefined while serving. */
  get drainingSince(): number | undefined {
    return this.drainStartedAt;
  }

  beginDrain(now = this.clock.now()): void {
    this.drainStartedAt ??= now;
  }
}
