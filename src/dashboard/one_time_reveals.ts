import { BoundedCache } from '../lib/lru.js';
import type { Clock } from '../lib/clock.js';

/** A new key or client secret waits this long for the page that shows it (the redirect after the POST). */
export const REVEAL_TTL_MS = 5 * 60_000;
/** At most this many secrets wait at once, across every dashboard session of this instance. */
const MAX_WAITING = 1_000;

/**
 * The one-time reveal behind POST/redirect/GET for secrets the dashboard creates (API keys,
 * client secrets). The POST that creates the secret leaves it here, under the signed-in dashboard
 * session and the thing it belongs to, and redirects; the GET takes it out (`take` deletes), so a
 * reload, a back button or a second tab finds nothing and the page says "already shown" instead of
 * creating anything.
 *
 * Kept in this process's memory only, with a short TTL, rather than encrypted in the database: the
 * secret then never reaches a disk, a backup or a replica, and nothing has to be cleaned up after
 * a crash. The cost: behind a load balancer without session affinity the redirect may land on
 * another instance, which says the secret is not available here (the page says to rotate the key
 * or re-create the client), never shows it twice, and never creates a second one.
 */
export class OneTimeReveals {
  private readonly waiting: BoundedCache<string, string>;

  constructor(clock: Clock, ttlMs: number = REVEAL_TTL_MS) {
    this.waiting = new BoundedCache<string, string>({ maxEntries: MAX_WAITING, ttlMs, clock });
  }

  /** Leaves `secret` for one reveal to dashboard session `sessionId` on the page of `subject` (`key_…`, `cli_…`). */
  put(sessionId: string, subject: string, secret: string): void {
    this.waiting.set(slot(sessionId, subject), secret);
  }

  /** The secret, once: later calls (and other sessions) get undefined. */
  take(sessionId: string, subject: string): string | undefined {
    const key = slot(sessionId, subject);
    const secret = this.waiting.get(key);
    this.waiting.delete(key);
    return secret;
  }

  /** Signing out drops whatever this session had not seen yet. */
  dropSession(sessionId: string): void {
    this.waiting.deleteWhere((_secret, key) => key.startsWith(`${sessionId}\n`));
  }
}

function slot(sessionId: string, subject: string): string {
  return `${sessionId}\n${subject}`;
}
