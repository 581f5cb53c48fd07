import type { EventBus } from '../lib/bus.js';
import type { Logger } from '../lib/logger.js';
import type { VerificationCache } from './verification_cache.js';

/**
 * Bus channel on which every instance learns that keys changed (revoked, rotated, agent revoked)
 * and drops them from its verification cache. Message: JSON `KeyInvalidation`. Holds ids only.
 */
export const KEY_INVALIDATION_CHANNEL = 'keys.invalidate';

export type KeyChangeReason = 'key_revoked' | 'agent_revoked' | 'key_rotated';

export interface KeyInvalidation {
  readonly keyIds: readonly string[];
  readonly agentId?: string;
  readonly reason: KeyChangeReason;
}

/**
 * Raised once, on the instance (or CLI process) that revoked, after the change is committed.
 * Keys of a rotation with a grace period are not revoked yet and raise nothing; a key whose grace
 * period ran out is reported `revoked` by `apiKeys.get()` and the verifier, with no event.
 */
export interface KeyRevokedEvent {
  readonly keyIds: readonly string[];
  readonly agentId: string;
  readonly reason: KeyChangeReason;
  /** Audit actor of the revocation (`cli`, `admin-token:…`, …). */
  readonly actor: string;
}

export type KeyRevokedListener = (event: KeyRevokedEvent) => void | Promise<void>;

/** Local cache eviction, the bus message for other instances, and the in-process revocation hook. */
export class KeyRevocations {
  private readonly listeners = new Set<KeyRevokedListener>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly bus: EventBus, private readonly cache: VerificationCache, private readonly logger: Logger) {}

  /** Starts listening for other instances' invalidations. */
  start(): void {
    this.unsubscribe = this.bus.subscribe(KEY_INVALIDATION_CHANNEL, (message) => {
      try {
        const parsed = JSON.parse(message) as Partial<KeyInvalidation>;
        const keyIds = Array.isArray(parsed.keyIds) ? parsed.keyIds.filter((id): id is string => typeof id === 'string') : [];
        this.cache.evict({ keyIds, agentId: typeof parsed.agentId === 'string' ? parsed.agentId : undefined });
      } catch (err) {
        this.logger.warn('ignored a malformed key invalidation message', { err });
      }
    });
  }

  onRevoked(listener: KeyRevokedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Evicts here at once, then tells the other instances. A bus failure is logged: the periodic change sweep still catches it. */
  async invalidate(change: KeyInvalidation): Promise<void> {
    this.cache.evict(change);
    try {
      await this.bus.publish(KEY_INVALIDATION_CHANNEL, JSON.stringify(change));
    } catch (err) {
      this.logger.warn('could not publish a key invalidation', { err, key_ids: change.keyIds });
    }
  }

  /** Runs every listener; one failing does not stop the others nor undo the revocation. */
  async revoked(event: KeyRevokedEvent): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(event);
      } catch (err) {
        this.logger.error('a key revocation listener failed', { err, key_ids: event.keyIds, reason: event.reason });
      }
    }
  }

  close(): void {
    this.unsubscribe?.();
    this.listeners.clear();
  }
}
