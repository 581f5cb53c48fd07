import type { AuditLog } from '../audit/audit_log.js';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { ApiKeySessionTable } from '../db/stores/api_key_sessions.js';
import { KeyStateTable } from '../db/stores/key_states.js';
import type { KeyServices } from '../keys/index.js';
import type { EventBus } from '../lib/bus.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { OidcServices } from '../oidc/services.js';
import { AccessTokenExchange } from './access_token_exchange.js';
import { agentAccountResolver, apiKeyClientMetadata, exchangedTokenTtl, keyActivityCheck, sessionRevocationKeys, sessionTokenClaims, type KeyUseLimit } from './engine_hooks.js';
import { ExchangeAudiences } from './exchange_audiences.js';
import { ExpiredSessionCleanup } from './expired_session_cleanup.js';
import { KeyLiveness } from './key_liveness.js';
import { followKeyRevocations } from './key_revocation_reaction.js';
import { KeyStates } from './key_states.js';
import { SessionDirectory } from './session_directory.js';
import { SessionRefresh } from './session_refresh.js';
import { SessionTokens } from './session_tokens.js';
import type { SessionStore } from './sessions.js';
import * as tokenExchangeGrant from './token_exchange_grant.js';
import type { TokenExchangeOptions } from './token_exchange_grant.js';

export interface ExchangeBuildDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly audit: AuditLog;
  readonly bus: EventBus;
  readonly keys: KeyServices;
  readonly oidc: OidcServices;
  /** Per-key limits and the key-guessing guard of the RFC 8693 grant (docs/reference.md §5). */
  readonly grantLimits: TokenExchangeOptions;
  /** Per-key limits of a refresh of an API-key session at the token endpoint (docs/reference.md §5). */
  readonly keyUseLimit?: KeyUseLimit;
  /** Default: the system clock. */
  readonly clock?: Clock;
}

/**
 * `services.exchange`: API key (+ session ID) → access token, one piece per job. Routes, the
 * RFC 8693 grant and the engine's hooks each take the pieces they need.
 */
export interface ApiKeyExchange {
  /** The `api_key_sessions` table. */
  readonly sessions: SessionStore;
  /** Short-lived cache of the state of keys behind sessions (evicted on key changes). */
  readonly keyStates: KeyStates;
  /** Whether the key behind a session works now (cached, or fresh from the database before signing). */
  readonly keyLiveness: KeyLiveness;
  /** Which resource server an exchanged token is for and how long it lives there. */
  readonly audiences: ExchangeAudiences;
  /** Issuing a session's token: claim, mint, reuse (`/auth/login`, the grant with an API-key subject). */
  readonly sessionTokens: SessionTokens;
  /** RFC 8693 with an access-token subject: a narrower token in the subject's family. */
  readonly accessTokenExchange: AccessTokenExchange;
  /** Listing and ending sessions (`/auth/sessions`, the dashboard). */
  readonly sessionDirectory: SessionDirectory;
  /** `/auth/refresh`: the engine's refresh grant for a session. */
  readonly sessionRefresh: SessionRefresh;
}

/**
 * Builds `services.exchange` and wires it into the engine and the key domain:
 * - the built-in public client `keyport-api-key` (code, not a table row: `client:delete` cannot remove it);
 * - the RFC 8693 grant, registered on every provider the host builds (signing-key rotation rebuilds it);
 * - agents as engine accounts (refresh refuses dead keys, agents and sessions), session claims and
 *   TOKEN_TTL on refreshed tokens;
 * - the token checks every verification runs (registry keys api_key / agent / session, key status);
 * - key and agent revocation ending sessions and tokens (here and, through the registry and the
 *   bus, on every instance: key_revocation_reaction.ts);
 * - the periodic deletion of expired sessions.
 * The CLI does not build this: its key-revoking commands run the registry part of the revocation
 * hook (src/exchange/revoked_keys.ts), so a `keyport key:revoke` ends sessions from its own process.
 */
export function buildExchange(deps: ExchangeBuildDependencies): { exchange: ApiKeyExchange; close: () => void } {
  const { oidc, keys, config, logger, clock } = deps;
  const sessions = new ApiKeySessionTable(deps.database.dataSource);
  const keyStates = new KeyStates(new KeyStateTable(deps.database.dataSource), deps.database.changeCounter());
  const keyLiveness = new KeyLiveness({ keyStates, revocations: oidc.revocations });
  const audiences = new ExchangeAudiences({ config, resourceServers: oidc.resourceServers });
  const exchange: ApiKeyExchange = {
    sessions,
    keyStates,
    keyLiveness,
    audiences,
    sessionTokens: new SessionTokens({ config, logger, oidc, sessions, keyStates, keyLiveness, audiences, clock }),
    accessTokenExchange: new AccessTokenExchange({ oidc, audiences, keyLiveness, clock }),
    sessionDirectory: new SessionDirectory({ config, sessions, keyLiveness, revocations: oidc.revocations, payloads: oidc.payloads, audit: deps.audit, clock }),
    sessionRefresh: new SessionRefresh({ oidc, sessions, clock }),
  };

  oidc.clients.registerBuiltIn(apiKeyClientMetadata(config));
  oidc.extendProvider((provider) => {
    provider.registerGrantType(tokenExchangeGrant.grantType, tokenExchangeGrant.tokenExchangeHandler(exchange, keys, deps.grantLimits), tokenExchangeGrant.parameters, tokenExchangeGrant.repeatable);
  });
  oidc.accounts.register('agt_', agentAccountResolver({ sessions, keyLiveness }, deps.keyUseLimit));
  oidc.addExtraTokenClaims(sessionTokenClaims);
  oidc.addAccessTokenTtl(exchangedTokenTtl(audiences));
  oidc.accessTokens.addRevocationKeys(sessionRevocationKeys);
  oidc.accessTokens.addActivityCheck(keyActivityCheck(keyStates));

  const stopFollowing = followKeyRevocations({ config, logger, keys, bus: deps.bus, keyStates, revocations: oidc.revocations });
  const expiredSessions = new ExpiredSessionCleanup({ sessions, logger, clock });
  expiredSessions.start();

  return {
    exchange,
    close: () => {
      stopFollowing();
      expiredSessions.close();
      exchange.sessionTokens.close();
    },
  };
}

export { API_KEY_CLIENT_ID } from './api_key_client.js';
export type { ExchangeResult } from './exchange_result.js';
export type { SessionView } from './session_directory.js';
export { DEFAULT_SESSION_ID, parseSessionId } from './session_id.js';
export { TOKEN_TYPES } from './token_exchange_grant.js';
