import type { AuditLog } from '../audit/audit_log.js';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { KEY_INVALIDATION_CHANNEL, type KeyServices } from '../keys/index.js';
import type { EventBus } from '../lib/bus.js';
import type { Logger } from '../lib/logger.js';
import type { OidcServices } from '../oidc/services.js';
import { agentAccountResolver, apiKeyClientMetadata, exchangedTokenTtl, keyActivityCheck, sessionRevocationKeys, sessionTokenClaims, type KeyUseLimit } from './engine_hooks.js';
import { ExchangeService } from './exchange_service.js';
import { KeyStates } from './key_states.js';
import { SessionStore } from './sessions.js';
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
}

/**
 * Builds `services.exchange` and wires it into the engine and the key domain:
 * - the built-in public client `keyport-api-key` (code, not a table row: `client:delete` cannot remove it);
 * - the RFC 8693 grant, registered on every provider the host builds (signing-key rotation rebuilds it);
 * - agents as engine accounts (refresh refuses dead keys, agents and sessions), session claims and
 *   TOKEN_TTL on refreshed tokens;
 * - the token checks every verification runs (registry keys api_key / agent / session, key status);
 * - key and agent revocation ending sessions and tokens (here and, through the registry and the
 *   bus, on every instance).
 * The CLI does not build this: its key-revoking commands run the registry part of the revocation
 * hook (src/exchange/revoked_keys.ts), so a `keyport key:revoke` ends sessions from its own process.
 */
export function buildExchange(deps: ExchangeBuildDependencies): { exchange: ExchangeService; close: () => void } {
  const { oidc, keys, config } = deps;
  const exchange = new ExchangeService({
    config,
    logger: deps.logger,
    oidc,
    audit: deps.audit,
    sessions: new SessionStore(deps.database.dataSource),
    keyStates: new KeyStates(deps.database.dataSource, deps.database.changeCounter()),
  });

  oidc.clients.registerBuiltIn(apiKeyClientMetadata(config));
  oidc.extendProvider((provider) => {
    provider.registerGrantType(tokenExchangeGrant.grantType, tokenExchangeGrant.tokenExchangeHandler(exchange, keys, deps.grantLimits), tokenExchangeGrant.parameters, tokenExchangeGrant.repeatable);
  });
  oidc.accounts.register('agt_', agentAccountResolver(exchange, deps.keyUseLimit));
  oidc.addExtraTokenClaims(sessionTokenClaims);
  oidc.addAccessTokenTtl(exchangedTokenTtl(exchange));
  oidc.accessTokens.addRevocationKeys(sessionRevocationKeys);
  oidc.accessTokens.addActivityCheck(keyActivityCheck(exchange));

  const stopRevoked = keys.onRevoked((event) => exchange.onKeysRevoked(event));
  const stopInvalidations = deps.bus.subscribe(KEY_INVALIDATION_CHANNEL, (message) => {
    try {
      const parsed = JSON.parse(message) as { keyIds?: unknown; agentId?: unknown };
      const keyIds = Array.isArray(parsed.keyIds) ? parsed.keyIds.filter((id): id is string => typeof id === 'string') : [];
      exchange.keyStates.evict({ keyIds, agentId: typeof parsed.agentId === 'string' ? parsed.agentId : undefined });
    } catch {
      // The key domain logs malformed messages on the same channel.
    }
  });
  exchange.startCleanup();

  return {
    exchange,
    close: () => {
      stopRevoked();
      stopInvalidations();
      exchange.close();
    },
  };
}

export { API_KEY_CLIENT_ID, ExchangeService, type ExchangeResult, type SessionView } from './exchange_service.js';
export { DEFAULT_SESSION_ID, parseSessionId } from './session_id.js';
export { TOKEN_TYPES } from './token_exchange_grant.js';
