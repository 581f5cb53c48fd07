import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { ES256_SIGNATURE_BYTES, isLowS } from './ecdsa_low_s.js';
import { SIGNING_ALG } from './policy.js';

/** Why a compact JWS was refused; `unknown_key` means "reload the keys and try again". */
export type SignatureFailure = 'malformed' | 'unknown_key' | 'bad_signature';

export class SignatureError extends Error {
  constructor(readonly reason: SignatureFailure) {
    super(`JWS refused: ${reason}`);
    this.name = 'SignatureError';
  }
}

export interface VerifiedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The header parameters Keyport's tokens carry. Anything else (jku, x5u, jwk, x5c, crit, b64…) is not ours. */
const HEADER_PARAMETERS: ReadonlySet<string> = new Set(['alg', 'typ', 'kid']);

/**
 * Whether a base64url segment (no padding) is the one encoding of its bytes. Decoders ignore
 * the unused low bits of the last character, so `…A` and `…B` can decode alike: a second string
 * for the same token. The unused bits must be zero, and a length of 1 modulo 4 encodes nothing.
 */
export function isCanonicalBase64url(segment: string): boolean {
  const unusedBits = [0, -1, 4, 2][segment.length % 4]!;
  if (unusedBits < 0) return false;
  if (unusedBits === 0) return true;
  const last = BASE64URL_ALPHABET.indexOf(segment[segment.length - 1]!);
  return (last & ((1 << unusedBits) - 1)) === 0;
}

function decodeJsonObject(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new SignatureError('malformed');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SignatureError('malformed');
  return value as Record<string, unknown>;
}

/**
 * The JSON object a base64url JWS header segment encodes; undefined when it is not one. Decides
 * like jose's `decodeProtectedHeader` (which the engine uses to call a token structured) for
 * base64url input: a length of 1 modulo 4 is not base64 (atob refuses it, Buffer would drop the
 * stray character), invalid UTF-8 becomes U+FFFD in both.
 */
export function decodeJwsHeader(segment: string): Record<string, unknown> | undefined {
  if (segment.length === 0 || segment.length % 4 === 1 || !SEGMENT.test(segment)) return undefined;
  try {
    return decodeJsonObject(segment);
  } catch {
    return undefined;
  }
}

/**
 * Signature check of Keyport's own ES256 access tokens with Node's synchronous ECDSA. Through jose
 * (WebCrypto) the check is an async job plus JWK import and option handling: ~160 µs per token
 * against ~100 µs here, measured in JWT introspection profiles where it was the largest single
 * cost. Deliberately narrow, since it only has to accept what Keyport signs:
 *
 * - compact serialization, each segment in its one canonical base64url form, header and
 *   payload JSON objects;
 * - `alg` exactly ES256 (so never `none` or an HMAC algorithm), and no header parameter but
 *   `alg`, `typ` and `kid` (no `crit`, `b64`, nor keys or key URLs: `jku`, `x5u`, `jwk`, `x5c`);
 * - `kid` required and naming one of the published keys (EC P-256); any other kid is
 *   `unknown_key` (the caller reloads the keys once, for a key rotated on another instance);
 * - a 64-byte r ‖ s signature over the ASCII `header.payload`, with s in its low form (Keyport
 *   signs only so: see ecdsa_low_s.ts), so no token has a second valid string.
 *
 * Claims (issuer, type, expiry…) are the caller's business (AccessTokenService).
 */
export class Es256KeySet {
  private readonly keys = new Map<string, KeyObject>();

  constructor(publicJwks: readonly JWK[]) {
    for (const jwk of publicJwks) {
      if (typeof jwk.kid !== 'string' || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || (jwk.alg !== undefined && jwk.alg !== SIGNING_ALG)) continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      this.keys.set(jwk.kid, createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JsonWebKey, format: 'jwk' }));
    }
  }

  /** The header and payload of a JWS this key set signed; throws SignatureError otherwise. */
  verify(token: string): VerifiedJws {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((part) => SEGMENT.test(part) && isCanonicalBase64url(part))) throw new SignatureError('malformed');
    const [encodedHeader, encodedPayload, encodedSignature] = parts as [string, string, string];
    const header = decodeJsonObject(encodedHeader);
    if (header.alg !== SIGNING_ALG || Object.keys(header).some((name) => !HEADER_PARAMETERS.has(name))) throw new SignatureError('malformed');
    if (typeof header.kid !== 'string') throw new SignatureError('malformed');
    const key = this.keys.get(header.kid);
    if (!key) throw new SignatureError('unknown_key');
    const signature = Buffer.from(encodedSignature, 'base64url');
    if (signature.length !== ES256_SIGNATURE_BYTES || !isLowS(signature)) throw new SignatureError('bad_signature');
    const signed = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii');
    if (!verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature)) throw new SignatureError('bad_signature');
    return { header, payload: decodeJsonObject(encodedPayload) };
  }
}
