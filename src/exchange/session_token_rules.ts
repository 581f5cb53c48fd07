import type { Config } from '../config/config.js';
import type { ApiKeySession } from '../db/entities/api_key_session.js';
import type { ApiKeyRecord } from '../keys/index.js';
import { TTL } from '../oidc/policy.js';

/**
 * What every token of an API-key session carries and how long it may live: shared by the mint at
 * `/auth/login` (session_tokens.ts) and the engine's refresh of the session (engine_hooks.ts), so
 * a refreshed token is bound exactly as the first one was.
 */

/**
 * A session (its refresh tokens included) lasts at most this long; then the caller exchanges its
 * key again. Tokens never outlive their session.
 */
export function sessionLifetimeSeconds(config: Pick<Config, 'tokenTtl'>): number {
  return Math.max(TTL.RefreshToken, config.tokenTtl);
}

/** The instant (epoch seconds) after which a key no longer works: expiry or end of its rotation grace. */
export function keyDeadline(key: Pick<ApiKeyRecord, 'expiresAt' | 'graceUntil'>): number | undefined {
  const instants = [key.expiresAt, key.graceUntil].filter((date): date is Date => date !== null).map((date) => Math.floor(date.getTime() / 1000));
  return instants.length ? Math.min(...instants) : undefined;
}

/** Keyport's claims on every token exchanged from an API key (RFC 9068 claims come from the engine). */
export function sessionClaims(key: Pick<ApiKeyRecord, 'id' | 'env' | 'accessType'>, agentId: string, session: Pick<ApiKeySession, 'id' | 'sessionId'>): Record<string, unknown> {
  return {
    api_key_id: key.id,
    agent_id: agentId,
    session_id: session.sessionId,
    sid: session.id,
    env: key.env,
    access_type: key.accessType,
  };
}
