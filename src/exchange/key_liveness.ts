import type { KeyStatus } from '../keys/index.js';
import { ExpiredApiKey, RevokedApiKey } from '../lib/errors.js';
import type { RevocationRegistry } from '../oidc/revocations.js';
import { keyStateStatus, type KeyState, type KeyStates } from './key_states.js';

export interface KeyLivenessDependencies {
  readonly keyStates: Pick<KeyStates, 'get' | 'current'>;
  readonly revocations: Pick<RevocationRegistry, 'isRevoked'>;
}

/**
 * Whether the key behind a session works now: asked by whatever lists a session, refreshes it or
 * is about to sign a token for it (the mint at `/auth/login`, the RFC 8693 grant, the engine's
 * refresh grant through the agent account lookup).
 */
export class KeyLiveness {
  constructor(private readonly deps: KeyLivenessDependencies) {}

  /**
   * The key behind a session as it stands now: its cached state judged against the clock, and the
   * revocation registry, which another instance or the CLI writes to the database at once (the
   * cached state alone could be a few seconds behind without a shared bus). With `fresh`, the key
   * and agent rows as the database has them at this moment (one batched indexed read): for
   * whatever is about to sign a token for the key.
   */
  async status(keyId: string, options: { fresh?: boolean } = {}): Promise<{ state: KeyState | undefined; status: KeyStatus }> {
    if (options.fresh) {
      const state = await this.deps.keyStates.current(keyId);
      return { state, status: state ? keyStateStatus(state) : 'revoked' };
    }
    const state = await this.deps.keyStates.get(keyId);
    if (!state) return { state, status: 'revoked' };
    const status = keyStateStatus(state);
    if (status !== 'active') return { state, status };
    const revoked = await this.deps.revocations.isRevoked([{ kind: 'api_key', value: keyId }, { kind: 'agent', value: state.agentId }], 0);
    return { state, status: revoked ? 'revoked' : 'active' };
  }

  /**
   * Refuses (401 revoked_api_key / expired_api_key; invalid_grant at the token endpoint) unless the
   * database says, now, that the key and its agent work. The key verifier's cache may be up to a
   * sweep (250 ms) behind a revocation made by another process (`keyport key:revoke`); a token
   * signed in that window would verify against the JWKS for its whole life, so nothing is signed
   * for a key without this read.
   */
  async assertCurrent(keyId: string, agentId: string): Promise<void> {
    const { state, status } = await this.status(keyId, { fresh: true });
    if (status === 'expired' && state?.agentId === agentId) throw new ExpiredApiKey();
    if (status !== 'active' || state?.agentId !== agentId) throw new RevokedApiKey();
  }
}
