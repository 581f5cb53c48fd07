import { type Clock, systemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { SessionStore } from './sessions.js';

const CLEANUP_INTERVAL_MS = 10 * 60_000;

/** Deletes API-key sessions past their end, every 10 minutes on every instance (docs/architecture.md, clean-up). */
export class ExpiredSessionCleanup {
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: Clock;

  constructor(private readonly deps: { readonly sessions: Pick<SessionStore, 'deleteExpired'>; readonly logger: Logger; readonly clock?: Clock }) {
    this.clock = deps.clock ?? systemClock;
  }

  /** Deletes sessions past their end; a failure is logged and retried next round. */
  async run(now = new Date(this.clock.now())): Promise<number> {
    try {
      return await this.deps.sessions.deleteExpired(now);
    } catch (err) {
      this.deps.logger.warn('api-key session clean-up failed', { err });
      return 0;
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => { void this.run(); }, CLEANUP_INTERVAL_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
