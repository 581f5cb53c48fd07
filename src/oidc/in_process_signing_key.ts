import { createPrivateKey, createPublicKey, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ExternalSigningKey, type JWK } from './engine.js';

/** The digest of each ECDSA JWS algorithm (RFC 7518 §3.4). */
const ECDSA_DIGESTS: Readonly<Record<string, string>> = { ES256: 'sha256', ES384: 'sha384', ES512: 'sha512' };

/**
 * A signing key that signs on the event loop with Node's synchronous ECDSA, handed to the engine
 * through its `ExternalSigningKey` hook (features.externalSigningSupport, configured in
 * configuration.ts) instead of as a private JWK.
 *
 * Why: with a private JWK the engine signs every JWT through jose and WebCrypto, an async job on
 * libuv's thread pool. Measured here (2 cores, 32 signatures in flight): 57 µs of CPU per ES256
 * signature that way against 37 µs synchronously, plus a thread hand-off per token, on a machine
 * whose other core is busy with the load generator or the database. Client-credentials JWTs and
 * every `/auth/login` pay one signature each.
 *
 * The key material is the same private JWK (decrypted from the database by SigningKeyStore); the
 * JWS the engine assembles around the signature (header, payload, base64url) is unchanged, and the
 * signature is the JWS form r ‖ s (`ieee-p1363`), as WebCrypto produces it.
 */
export class InProcessSigningKey extends ExternalSigningKey {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #digest: string;
  readonly #kid: string;
  readonly #alg: string;

  private constructor(jwk: JWK & { kid: string; alg: string }, digest: string) {
    super();
    this.#kid = jwk.kid;
    this.#alg = jwk.alg;
    this.#digest = digest;
    this.#privateKey = createPrivateKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' });
    this.#publicKey = createPublicKey(this.#privateKey);
  }

  /** The key as the engine should get it: in-process for EC private keys Keyport signs with, the JWK otherwise. */
  static from(jwk: JWK): JWK | InProcessSigningKey {
    const digest = typeof jwk.alg === 'string' ? ECDSA_DIGESTS[jwk.alg] : undefined;
    if (!digest || jwk.kty !== 'EC' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') return jwk;
    return new InProcessSigningKey(jwk as JWK & { kid: string; alg: string }, digest);
  }

  override get kid(): string {
    return this.#kid;
  }

  override get alg(): string {
    return this.#alg;
  }

  /** The public key (the engine publishes and verifies with it; the private key never leaves this object). */
  override keyObject(): KeyObject {
    return this.#publicKey;
  }

  override sign(data: Uint8Array): Uint8Array {
    return sign(this.#digest, data, { key: this.#privateKey, dsaEncoding: 'ieee-p1363' });
  }
}
