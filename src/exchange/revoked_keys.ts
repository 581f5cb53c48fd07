import type { Config } from '../config/config.js';
import type { KeyRevokedEvent } from '../keys/index.js';
import type { Logger } from '../lib/logger.js';
import { CLOCK_TOLERANCE, maxAccessTokenTtl } from '../oidc/policy.js';
import type { RevocationRegistry } from '../oidc/revocations.js';

/**
 * The part of `ExchangeService.onKeysRevoked` that reaches other processes: registry rows for the
 * revoked keys (and the agent), so the sessions and tokens issued from them are refused on every
 * instance (through the bus with Redis, the registry's sweep without). The CLI's key-revoking
 * commands run this without building the exchange and its engine (src/cli/dependencies.ts); keep
 * the two in step.
 */
export async function revokeTokensOfRevokedKeys(
  deps: { readonly revocations: Pick<RevocationRegistry, 'revoke'>; readonly config: Pick<Config, 'tokenTtl'>; readonly logger: Logger },
  event: KeyRevokedEvent,
): Promise<void> {
  // Registry rows must outlive every token they could match (ExchangeService.registryHorizon).
  const until = new Date(Date.now() + (maxAccessTokenTtl(deps.config) + CLOCK_TOLERANCE) * 1000);
  for (const keyId of event.keyIds) await deps.revocations.revoke({ kind: 'api_key', value: keyId }, until);
  if (event.reason === 'agent_revoked') await deps.revocations.revoke({ kind: 'agent', value: event.agentId }, until);
  deps.logger.info('api-key sessions ended by revocation', { key_ids: event.keyIds, agent_id: event.agentId, reason: event.reason });
}
