import { BoundedCache } from '../lib/lru.js';
import type { VerifiedJws } from './jwt_signature.js';

/** Tokens whose signature check is remembered; each entry is a token string plus its decoded JSON (~2 KB). */
export const VERIFIED_JWS_CACHE_ENTRIES = 10_000;

/**
 * Signature checks already passed, by exact token string, for one key set. Resource servers
 * introspect the same token again and again (every API call they serve), and the ES256 check is
 * a pure function of the token and the public keys; in profiles of JWT introspection it was the
 * largest single cost (`verifyOneShot`, 12–18 % of the server's CPU, ~100 µs a token). Only the
 * signature (and the decoding) is remembered: expiry, issuer, revocation and activity are judged
 * on every call by the caller.
 *
 * Only tokens that verified are stored, so garbage cannot fill it, and a token differing in any
 * byte (another signature included) is a different key. The owner drops the whole cache when the
 * key ring changes (a removed key must stop verifying at once). Bounded, least recently used out.
 */
export class VerifiedJwsCache {
  private readonly entries: BoundedCache<string, VerifiedJws>;

  constructor(maxEntries = VERIFIED_JWS_CACHE_ENTRIES) {
    this.entries = new BoundedCache({ maxEntries });
  }

  get size(): number {
    return this.entries.size;
  }

  get(token: string): VerifiedJws | undefined {
    return this.entries.get(token);
  }

  set(token: string, verified: VerifiedJws): void {
    this.entries.set(token, verified);
  }
}
