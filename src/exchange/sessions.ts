import type { ApiKeySession } from '../db/entities/api_key_session.js';

/** The facts of a newly minted current token, written when a claim completes. */
export interface CurrentToken {
  tokenCipher: string;
  tokenJti: string;
  tokenIssuedAt: Date;
  tokenExpiresAt: Date;
  tokenFingerprint: string;
  clientId: string;
  scope: string;
  audience: string;
  grantId: string | null;
  refreshCipher: string | null;
}

export interface NewSession {
  id: string;
  keyId: string;
  agentId: string;
  sessionId: string;
  sessionHash: string;
  createdAt: Date;
  expiresAt: Date;
}

/**
 * What a claimed insert did: `inserted` (and the key worked at that moment, as the database had it),
 * `exists` (the session was there already), `key_refused` (the key or its agent did not work: nothing
 * was written).
 */
export type InsertOutcome = 'inserted' | 'exists' | 'key_refused';

/** The token columns of a session that has not minted (or no longer has) a current token. */
export const NO_CURRENT_TOKEN = Object.freeze({
  tokenCipher: null,
  tokenJti: null,
  tokenIssuedAt: null,
  tokenExpiresAt: null,
  tokenFingerprint: null,
  clientId: null,
  scope: null,
  audience: null,
  grantId: null,
  refreshCipher: null,
});

/**
 * The `api_key_sessions` table as the exchange needs it (implemented in
 * src/db/stores/api_key_sessions.ts). Every change that races is one conditional statement: the
 * unique (key, session hash) index decides who creates a session, a conditional UPDATE decides who
 * mints its next token.
 */
export interface SessionStore {
  /** The session of (key, session hash). Every exchange starts with this read. */
  find(keyId: string, hash: string): Promise<ApiKeySession | null>;
  findById(id: string): Promise<ApiKeySession | null>;
  /**
   * Whether a write that failed may still have landed: on MySQL a statement whose connection died
   * or timed out may have been applied (or still be, by a stalled server); SQLite's writes are
   * synchronous and atomic, so a failed one did nothing.
   */
  readonly failedWritesMayLand: boolean;
  /**
   * Whether `find` answers within the event-loop turn it was called in (SQLite, where reads are
   * synchronous) rather than after a round trip (MySQL).
   */
  readonly readsWithinTurn: boolean;
  /**
   * Creates the session already claimed by `claimer`, in one statement that lands only while the
   * database holds the session's key as working at `now` (the judgment of `KeyLiveness.assertCurrent`:
   * the key and its agent active, not past its expiry or rotation grace, still the agent's):
   * `inserted`; `exists` when another request created it first (the unique (key, session) index
   * decides, also when the insert shares a statement with other new sessions: a duplicate fails the
   * whole statement, and each row is then retried alone); `key_refused` when the key did not work.
   */
  insertClaimed(session: NewSession, claimer: string, claimUntil: Date, now: Date): Promise<InsertOutcome>;
  /**
   * Claims the right to mint the session's next token: succeeds only if nobody changed the session
   * since it was read at `version` and no other claim is running (or the other one lapsed).
   */
  claim(id: string, version: number, claimer: string, now: Date, claimUntil: Date): Promise<boolean>;
  /**
   * Stores the token the claimer minted and releases the claim; false when the claim was lost
   * meanwhile. Completions of the same two event-loop turns share one statement.
   */
  complete(id: string, claimer: string, token: CurrentToken): Promise<boolean>;
  /** Gives up a claim; false when the row is no longer claimed by `claimer`. */
  releaseClaim(id: string, claimer: string): Promise<boolean>;
  /** Deletes a session `claimer` created and never stored a token in; false when there is no such row. */
  discardUnminted(id: string, claimer: string): Promise<boolean>;
  /** Replaces the refresh token handed out with the current token (the previous one was used). */
  replaceRefreshToken(id: string, version: number, refreshCipher: string): Promise<void>;
  /** Deletes a session; false when it was already gone. */
  delete(id: string): Promise<boolean>;
  /** Deletes a session that is at or past its end (so a new one can take its place): the exchange's test of an ended session. */
  deleteIfExpired(id: string, now: Date): Promise<void>;
  list(filter: { keyId?: string; agentId?: string }, limit: number): Promise<ApiKeySession[]>;
  /** Deletes sessions past their end; returns how many. */
  deleteExpired(now: Date): Promise<number>;
}
