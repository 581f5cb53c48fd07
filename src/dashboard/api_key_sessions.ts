/**
 * The "Sessions" section of an agent's page reads API-key sessions through this interface. The
 * token-exchange feature owns the sessions table (a session is identified by (key, session_id),
 * docs/reference.md §3); until it plugs its implementation in (the `apiKeySessions` dependency of
 * `buildDashboardServices`), the dashboard uses `NO_API_KEY_SESSIONS`, which has none.
 */

/** One API-key session as the dashboard lists it. */
export interface ApiKeySessionView {
  /** The session's own id (`ses_…`), by which the dashboard ends it; absent from directories that cannot end sessions. */
  readonly id?: string;
  /** The key the session belongs to (`key_…`). */
  readonly keyId: string;
  /** The caller's `session_id`. Shown escaped; may be any string the caller chose. */
  readonly sessionId: string;
  readonly createdAt: Date;
  /** Last token issued or refreshed for it; null when unknown. */
  readonly lastUsedAt: Date | null;
  /** When its current access token stops working; null when unknown. */
  readonly expiresAt: Date | null;
}

export interface ApiKeySessionDirectory {
  /** Sessions of the agent's keys that are neither ended nor expired, newest first, at most `limit`. */
  listActiveForAgent(agentId: string, options: { limit: number }): Promise<ApiKeySessionView[]>;
}

/** Placeholder until the token-exchange feature provides sessions. */
export const NO_API_KEY_SESSIONS: ApiKeySessionDirectory = {
  listActiveForAgent: async () => [],
};
