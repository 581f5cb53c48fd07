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
  private readonly entries = new Map<string, VerifiedJws>();

  constructor(private readonly maxEntries = VERIFIED_JWS_CACHE_ENTRIES) {}

  get size(): number {
    return this.entries.size;
  }

  get(token: string): VerifiedJws | undefined {
    const hit = this.entries.get(token);
    if (hit === undefined) return undefined;
    // Most recently used goes last (a Map iterates in insertion order).
    this.entries.delete(token);
    this.entries.set(token, hit);
    return hit;
  }

  set(token: string, verified: VerifiedJws): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(token);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(token, verified);
  }
}
