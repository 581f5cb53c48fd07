import type { Config } from '../config/config.js';
import type { KeyRevokedEvent } from '../keys/index.js';
import type { Logger } from '../lib/logger.js';
import { CLOCK_TOLERANCE, maxAccessTokenTtl } from '../oidc/policy.js';
import type { RevocationRegistry } from '../oidc/revocations.js';

/** Until when a revocation-registry row must stay: past every token it could match. */
export function registryHorizon(config: Pick<Config, 'tokenTtl'>): Date {
  return new Date(Date.now() + (maxAccessTokenTtl(config) + CLOCK_TOLERANCE) * 1000);
}

/**
 * Registry rows for revoked keys (and the agent), so the sessions and tokens issued from them are
 * refused on every instance (through the bus with Redis, the registry's sweep without). Run by
 * `endSessionsOfRevokedKeys` (key_revocation_reaction.ts) in the server and, without building the
 * exchange and its engine, by the CLI's key-revoking commands (src/cli/dependencies.ts).
 */
export async function revokeTokensOfRevokedKeys(
  deps: { readonly revocations: Pick<RevocationRegistry, 'revoke'>; readonly config: Pick<Config, 'tokenTtl'>; readonly logger: Logger },
  event: KeyRevokedEvent,
): Promise<void> {
  const until = registryHorizon(deps.config);
  for (const keyId of event.keyIds) await deps.revocations.revoke({ kind: 'api_key', value: keyId }, until);
  if (event.reason === 'agent_revoked') await deps.revocations.revoke({ kind: 'agent', value: event.agentId }, until);
  deps.logger.info('api-key sessions ended by revocation', { key_ids: event.keyIds, agent_id: event.agentId, reason: event.reason });
}
