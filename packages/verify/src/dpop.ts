import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type JWK } from 'jose';

/**
 * DPoP proofs (RFC 9449 §4.3, §7.1) at a resource server: the proof is signed by the key the token
 * is bound to (`cnf.jkt`), names this request (`htm`, `htu`), is fresh (`iat`), covers this token
 * (`ath`) and is used once (`jti`, remembered in a bounded cache).
 */

/** What Keyport accepts at its token endpoint (`dpop_signing_alg_values_supported`). */
export const DPOP_ALGORITHMS = ['ES256', 'Ed25519', 'EdDSA'] as const;
const MAX_PROOF_LENGTH = 4096;

export interface DpopOptions {
  /** How old (or how far in the future) a proof's `iat` may be, in seconds (default 60). */
  readonly maxAgeSeconds?: number;
  /** How many proofs the built-in replay cache remembers (default 100 000); the oldest go first. */
  readonly replayCacheSize?: number;
  /**
   * A shared replay cache (e.g. Redis `SET NX PX`) for an API served by several processes: the
   * built-in one is per process, so a proof replayed to another process within `maxAgeSeconds`
   * would not be caught by it.
   */
  readonly replayCache?: ReplayCache;
}

/** Remembers one-time proofs: true the first time a key is seen before `expiresAtMs`. */
export interface ReplayCache {
  firstUse(key: string, expiresAtMs: number): boolean | Promise<boolean>;
}

/**
 * The default replay cache: at most `maxEntries` proofs, each until it could no longer be accepted
 * anyway. When full, the oldest entry goes (it is the closest to expiry), so memory stays bounded
 * under any load; a proof can be replayed only after `maxEntries` newer proofs pushed it out within
 * its freshness window.
 */
export class BoundedReplayCache implements ReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries: number, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('@keyport/verify: dpop.replayCacheSize must be a positive integer');
  }

  get size(): number {
    return this.seen.size;
  }

  firstUse(key: string, expiresAtMs: number): boolean {
    const now = this.now();
    const known = this.seen.get(key);
    if (known !== undefined && known > now) return false;
    if (known !== undefined) this.seen.delete(key);
    // Drop expired entries from the old end (insertion order ≈ expiry order), then make room.
    for (const [oldest, until] of this.seen) {
      if (until > now && this.seen.size < this.maxEntries) break;
      this.seen.delete(oldest);
    }
    this.seen.set(key, expiresAtMs);
    return true;
  }
}

/** Why a proof was refused; the message goes to the client (`invalid_dpop_proof`). */
export class DpopProofRefused extends Error {}

export interface ProofExpectation {
  readonly method: string;
  /** The URLs this request may be named by (`htu`, compared without query and fragment). */
  readonly urls: readonly string[];
  readonly accessToken: string;
  /** The token's `cnf.jkt`. */
  readonly jkt: string;
}

function withoutQuery(value: string): string | undefined {
  try {
    const url = new URL(value);
    url.search = '';
    url.hash = '';
    return url.href;
  } catch {
    return undefined;
  }
}

export class DpopProofChecker {
  private readonly maxAgeSeconds: number;
  private readonly replays: ReplayCache;

  constructor(options: DpopOptions, private readonly clockToleranceSeconds: number) {
    this.maxAgeSeconds = options.maxAgeSeconds ?? 60;
    if (!(this.maxAgeSeconds > 0)) throw new TypeError('@keyport/verify: dpop.maxAgeSeconds must be positive');
    this.replays = options.replayCache ?? new BoundedReplayCache(options.replayCacheSize ?? 100_000);
  }

  /** Throws DpopProofRefused unless the proof holds for this request and token and was not seen before. */
  async check(proof: string, expected: ProofExpectation): Promise<void> {
    if (proof.length === 0 || proof.length > MAX_PROOF_LENGTH) throw new DpopProofRefused('The DPoP proof is missing or too long.');
    let payload: Record<string, unknown>;
    let jwk: JWK;
    try {
      const verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...DPOP_ALGORITHMS] });
      payload = verified.payload as Record<string, unknown>;
      jwk = verified.protectedHeader.jwk as JWK;
    } catch {
      throw new DpopProofRefused('The DPoP proof is not a valid proof JWT (typ dpop+jwt, an allowed algorithm, a public key, a good signature).');
    }
    const { iat, jti, htm, htu, ath } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw new DpopProofRefused('The DPoP proof has no jti.');
    if (typeof iat !== 'number') throw new DpopProofRefused('The DPoP proof has no iat.');
    const now = Date.now() / 1000;
    const slack = this.maxAgeSeconds + this.clockToleranceSeconds;
    if (Math.abs(now - iat) > slack) throw new DpopProofRefused('The DPoP proof is not recent (iat).');
    if (htm !== expected.method) throw new DpopProofRefused('The DPoP proof is for another HTTP method (htm).');
    const named = typeof htu === 'string' ? withoutQuery(htu) : undefined;
    if (!named || !expected.urls.some((url) => withoutQuery(url) === named)) throw new DpopProofRefused('The DPoP proof is for another URL (htu).');
    if (ath !== createHash('sha256').update(expected.accessToken).digest('base64url')) throw new DpopProofRefused('The DPoP proof does not cover this access token (ath).');
    if ((await calculateJwkThumbprint(jwk)) !== expected.jkt) throw new DpopProofRefused('The DPoP proof is signed by another key than the token is bound to.');
    if (!(await this.replays.firstUse(`${expected.jkt}:${jti}`, (iat + slack) * 1000))) throw new DpopProofRefused('The DPoP proof was already used (jti).');
  }
}
