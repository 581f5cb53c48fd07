import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import { type Clock, epochSeconds, systemClock } from '../lib/clock.js';
import type { ProofReplayStore } from './proof_replay.js';

/**
 * DPoP proofs (RFC 9449) presented to Keyport's own token issuers: `POST /auth/login` and the
 * RFC 8693 grant (the engine checks proofs for its own grants itself, with the same replay store).
 * The rules are the engine's (lib/helpers/validate_dpop.js), so a client sees one behaviour.
 */

/** What the engine accepts (its `dPoPSigningAlgValues` default, advertised as `dpop_signing_alg_values_supported`). */
export const DPOP_SIGNING_ALGS = ['ES256', 'Ed25519', 'EdDSA'] as const;
/** A proof's `iat` may be this far from now either way (the engine's CHALLENGE_OK_WINDOW), and its jti is remembered as long. */
export const DPOP_PROOF_WINDOW_SECONDS = 300;
/** A proof is a small JWS with a public key in it; anything longer is refused before any work. */
const MAX_PROOF_LENGTH = 4096;

/** A proof that does not hold; `message` is safe to show the client (RFC 9449 `invalid_dpop_proof`). */
export class DpopProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DpopProofError';
  }
}

export interface DpopExpectation {
  /** `htm`: the request's method. */
  readonly method: string;
  /** `htu`: the URLs the proof may name (without query and fragment), e.g. issuer-based and as requested. */
  readonly urls: readonly string[];
  /** When the proof accompanies an access token (`ath`, resource requests). */
  readonly accessToken?: string;
  /** Whose jtis the replay check keeps apart (the client id). */
  readonly replayScope: string;
}

export interface VerifiedDpopProof {
  /** RFC 7638 thumbprint of the proof's key: the token's `cnf.jkt`. */
  readonly jkt: string;
  readonly jti: string;
}

/** The base64url SHA-256 of an access token (`ath`). */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

function comparableUrl(value: string): string | undefined {
  const url = URL.parse(value);
  if (!url) return undefined;
  url.hash = '';
  url.search = '';
  return url.href;
}

export class DpopProofVerifier {
  private readonly clock: Clock;

  constructor(private readonly replays: Pick<ProofReplayStore, 'firstUse'>, clock?: Clock) {
    this.clock = clock ?? systemClock;
  }

  /** The proof's key thumbprint when the proof holds for this request and was not seen before; throws DpopProofError otherwise. */
  async verify(proof: string, expected: DpopExpectation): Promise<VerifiedDpopProof> {
    if (typeof proof !== 'string' || proof.length === 0 || proof.length > MAX_PROOF_LENGTH) throw new DpopProofError('invalid DPoP key binding');
    let payload: Record<string, unknown>;
    let jwk: Record<string, unknown>;
    try {
      const verified = await jwtVerify(proof, EmbeddedJWK, { algorithms: [...DPOP_SIGNING_ALGS], typ: 'dpop+jwt' });
      payload = verified.payload as Record<string, unknown>;
      jwk = verified.protectedHeader.jwk as Record<string, unknown>;
    } catch {
      throw new DpopProofError('invalid DPoP key binding');
    }
    const { iat, jti, htm, htu, ath } = payload;
    if (typeof iat !== 'number' || !iat) throw new DpopProofError('DPoP proof must have a iat number property');
    if (typeof jti !== 'string' || !jti || jti.length > 256) throw new DpopProofError('DPoP proof must have a jti string property');
    if (payload.nonce !== undefined) throw new DpopProofError('DPoP nonces are not supported');
    if (Math.abs(epochSeconds(this.clock) - iat) > DPOP_PROOF_WINDOW_SECONDS) throw new DpopProofError('DPoP proof iat is not recent enough');
    if (htm !== expected.method) throw new DpopProofError('DPoP proof htm mismatch');
    const actual = typeof htu === 'string' ? comparableUrl(htu) : undefined;
    if (!actual || !expected.urls.some((url) => comparableUrl(url) === actual)) throw new DpopProofError('DPoP proof htu mismatch');
    if (expected.accessToken !== undefined && ath !== accessTokenHash(expected.accessToken)) throw new DpopProofError('DPoP proof ath mismatch');
    const jkt = await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0]);
    // Remembered for the whole window on both sides of iat: the proof cannot be accepted later than that.
    if (!(await this.replays.firstUse(expected.replayScope, jti, DPOP_PROOF_WINDOW_SECONDS * 2))) throw new DpopProofError('DPoP proof JWT Replay detected');
    return { jkt, jti };
  }
}
