import type { Logger } from '../lib/logger.js';
import type { SessionStore } from './sessions.js';

/** Between attempts while the database does not take the undo. */
const RETRY_MS = 250;
/** Undos waiting at once; beyond this the oldest is dropped (its claim lapses by itself). */
const MAX_PENDING = 10_000;

/** A claim whose owner failed: a session it created (delete it unless it got a token) or one it claimed (release it). */
export interface FailedClaim {
  readonly sessionRowId: string;
  readonly claimer: string;
  /** The owner inserted the row itself: undoing means deleting it while it has no token. */
  readonly created: boolean;
  /** When the claim lapses by itself; no point trying after. */
  readonly until: number;
  /**
   * The statement that took the claim failed without saying whether it landed (MySQL: the
   * connection died mid-statement, or a frozen server still holds it). An undo that finds nothing
   * is then retried until the claim lapses, as the claim may land after it.
   */
  readonly outcomeUnknown?: boolean;
}

/**
 * Undoes the claims of exchanges that failed half-way (the token could not be minted or stored
 * because the database went away or refused writes), so no session is left claimed and tokenless:
 * a new session's row is deleted, an existing session's claim released. Both statements only touch
 * a row still claimed by that owner, so they are safe whenever they run.
 *
 * The database that just failed usually fails the undo too; it is then retried every 250 ms until it
 * works or the claim lapses. A row or claim whose INSERT or UPDATE outcome is unknown (the
 * connection died, or a frozen server still holds the statement) is retried until the claim lapses
 * even when nothing was there yet, as the statement may land later. Without that, a claim that
 * landed unseen would keep every request for the session waiting until it lapsed (the request
 * budget, 5 s by default) after the database came back.
 */
export class ClaimCleanup {
  private readonly pending = new Map<string, FailedClaim>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly sessions: Pick<SessionStore, 'discardUnminted' | 'releaseClaim'>, private readonly logger: Logger) {}

  /** Tries at once (not awaited by the failing request); keeps trying in the background. */
  undo(claim: FailedClaim): void {
    if (this.closed) return;
    void this.attempt(claim).then((outcome) => { if (outcome !== 'done') this.keep(claim); });
  }

  /** Undos still waiting (tests, shutdown). */
  get size(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * `done`: nothing left to do; `wait`: a row this owner created is not there (yet: its INSERT may
   * still land); `failed`: the database refused the undo.
   */
  private async attempt(claim: FailedClaim): Promise<'done' | 'wait' | 'failed'> {
    const lapsed = Date.now() >= claim.until;
    try {
      const changed = claim.created
        ? await this.sessions.discardUnminted(claim.sessionRowId, claim.claimer)
        : await this.sessions.releaseClaim(claim.sessionRowId, claim.claimer);
      // A claim on an existing row that is no longer ours was released or taken over, unless the
      // statement that took it may still land.
      return changed || lapsed || !(claim.created || claim.outcomeUnknown) ? 'done' : 'wait';
    } catch {
      return lapsed ? 'done' : 'failed';
    }
  }

  private keep(claim: FailedClaim): void {
    if (this.closed) return;
    this.pending.set(`${claim.sessionRowId}\u0000${claim.claimer}`, claim);
    if (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.closed || this.pending.size === 0) return;
    this.timer = setTimeout(() => { void this.retry(); }, RETRY_MS);
    this.timer.unref();
  }

  private async retry(): Promise<void> {
    this.timer = undefined;
    for (const [id, claim] of [...this.pending]) {
      if (this.closed) return;
      const outcome = await this.attempt(claim);
      if (outcome === 'done') this.pending.delete(id);
      // The database still refuses: the others would fail the same way (and on SQLite each attempt
      // may wait out the busy timeout on the event loop). Next round.
      if (outcome === 'failed') break;
    }
    if (this.pending.size > 0) this.logger.debug('api-key session claims still to undo', { pending: this.pending.size });
    this.schedule();
  }
}
