import { type Clock, systemClock } from '../lib/clock.js';
import type { TokenIds } from './token_ids.js';

/** What the replay check needs of the `oidc_payloads` store (src/db/stores/oidc_payloads.ts). */
export interface ProofReplayRows {
  insertIfAbsent(model: string, id: string, payload: string, expiresAt: Date): Promise<boolean>;
  deleteIfExpired(model: string, id: string, now: Date): Promise<boolean>;
}

/** The row model of a seen proof (the engine's own name for its replay records, so clean-up treats them alike). */
export const REPLAY_MODEL = 'ReplayDetection';

/**
 * "Has this one-time proof been seen?", answered atomically by the database every instance
 * shares: DPoP proof `jti`s (RFC 9449 §11.1) at the token endpoint, `/auth/login` and the RFC 8693
 * grant, and client-assertion `jti`s (the engine's `ReplayDetection.unique` is redirected here,
 * engine/replay_detection.ts).
 *
 * Why not the engine's own check: it reads, then writes (find, then upsert), so two instances
 * (or two requests on one) presenting the same proof at the same moment both pass. Here the first
 * use is an INSERT that the primary key lets succeed once; a replay changes no row. Why the
 * database and not Redis: every instance shares the database whether or not REDIS_URL is set,
 * and a record that lives only in Redis would be lost (and the proof accepted again) when Redis
 * fails over to the in-memory fallback the rate limits use.
 *
 * Rows live until the proof could no longer be accepted anyway (its freshness window), and the
 * periodic clean-up of `oidc_payloads` deletes them after that. Ids are keyed hashes, as for
 * every other engine row.
 */
export class ProofReplayStore {
  private readonly clock: Clock;

  constructor(private readonly rows: ProofReplayRows, private readonly ids: TokenIds, clock?: Clock) {
    this.clock = clock ?? systemClock;
  }

  /**
   * True the first time `jti` is presented within `scope` (a client id) while the record lasts
   * (`lifetimeSeconds`); false for every later presentation, on any instance.
   */
  async firstUse(scope: string, jti: string, lifetimeSeconds: number): Promise<boolean> {
    const id = this.ids.hash(`${scope}\u0000${jti}`);
    const now = this.clock.now();
    const expiresAt = new Date(now + Math.max(1, lifetimeSeconds) * 1000);
    if (await this.rows.insertIfAbsent(REPLAY_MODEL, id, '{}', expiresAt)) return true;
    // A record of an earlier, expired proof with the same id not cleaned up yet: drop it and try once more.
    if (!(await this.rows.deleteIfExpired(REPLAY_MODEL, id, new Date(now)))) return false;
    return this.rows.insertIfAbsent(REPLAY_MODEL, id, '{}', expiresAt);
  }
}
