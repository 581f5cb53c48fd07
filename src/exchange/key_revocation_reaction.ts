import type { Config } from '../config/config.js';
import { KEY_INVALIDATION_CHANNEL, type KeyRevokedEvent, type KeyServices } from '../keys/index.js';
import type { EventBus } from '../lib/bus.js';
import type { Logger } from '../lib/logger.js';
import type { RevocationRegistry } from '../oidc/revocations.js';
import type { KeyStates } from './key_states.js';
import { revokeTokensOfRevokedKeys } from './revoked_keys.js';

export interface KeyRevocationReactionDependencies {
  readonly config: Pick<Config, 'tokenTtl'>;
  readonly logger: Logger;
  readonly keys: Pick<KeyServices, 'onRevoked'>;
  readonly bus: Pick<EventBus, 'subscribe'>;
  readonly keyStates: Pick<KeyStates, 'evict'>;
  readonly revocations: Pick<RevocationRegistry, 'revoke'>;
}

/**
 * `services.keys.onRevoked`: every session and token of the revoked keys (and agent) ends, on
 * every instance. The registry rows are what every instance checks (other instances' caches hear
 * of it through the bus); the refresh grant refuses the sessions because their key is dead. The
 * session rows stay until they expire, inert (the key can no longer log in), so `/auth/refresh`
 * can still tell `revoked_api_key` from an unknown token.
 */
export async function endSessionsOfRevokedKeys(deps: Omit<KeyRevocationReactionDependencies, 'keys' | 'bus'>, event: KeyRevokedEvent): Promise<void> {
  deps.keyStates.evict({ keyIds: event.keyIds, agentId: event.agentId });
  await revokeTokensOfRevokedKeys({ revocations: deps.revocations, config: deps.config, logger: deps.logger }, event);
}

/**
 * How the exchange follows the key domain: a key or agent revoked here ends its sessions and
 * tokens (endSessionsOfRevokedKeys); a key changed anywhere (the bus's key-invalidation channel,
 * published by every instance and the CLI) drops its cached state, so the next check reads it.
 * Returns the unsubscribe.
 */
export function followKeyRevocations(deps: KeyRevocationReactionDependencies): () => void {
  const stopRevoked = deps.keys.onRevoked((event) => endSessionsOfRevokedKeys(deps, event));
  const stopInvalidations = deps.bus.subscribe(KEY_INVALIDATION_CHANNEL, (message) => {
    try {
      const parsed = JSON.parse(message) as { keyIds?: unknown; agentId?: unknown };
      const keyIds = Array.isArray(parsed.keyIds) ? parsed.keyIds.filter((id): id is string => typeof id === 'string') : [];
      deps.keyStates.evict({ keyIds, agentId: typeof parsed.agentId === 'string' ? parsed.agentId : undefined });
    } catch {
      // The key domain logs malformed messages on the same channel.
    }
  });
  return () => {
    stopRevoked();
    stopInvalidations();
  };
}
