import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { KeyportSigningKey, type ExternalSigningKey, type JWK } from './engine/index.js';
import { SIGNING_ALG } from './policy.js';
import type { SigningThread } from './signing_thread.js';

/**
 * One of Keyport's ES256 signing keys as the engine's `ExternalSigningKey` (oidc-provider's
 * `features.externalSigningSupport`): every JWS the engine signs (access tokens, ID tokens)
 * goes through `sign`, which signs off the event loop on the signing thread (signing_thread.ts)
 * and returns the low-S form of the signature (see ecdsa_low_s.ts). The engine publishes the
 * public half through `keyObject()`.
 *
 * Signed with `crypto.sign`, not WebCrypto's `subtle.sign`: on the thread pool, with 32 signatures
 * in flight (bench/micro/es256_signing.ts), 8–14 µs of event loop and 37–45 µs of CPU in all a
 * signature, against 15–19 µs and 45–56 µs (WebCrypto's job, its promise and its argument checks);
 * the signature is the same (ECDSA P-256 over SHA-256, r‖s).
 */
class LowSSigningKey extends KeyportSigningKey {
  private readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject;

  constructor(jwk: JWK & { kid: string }, private readonly signer: SigningThread) {
    super(jwk.kid, SIGNING_ALG);
    this.publicKey = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JsonWebKey, format: 'jwk' });
    this.privateKey = createPrivateKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' });
  }

  override keyObject(): KeyObject {
    return this.publicKey;
  }

  override sign(data: Uint8Array): Promise<Uint8Array> {
    return this.signer.sign(this.privateKey, data);
  }
}

/** The engine's `jwks.keys` for a key ring: every private ES256 JWK as a low-S signer, signing on `signer`. */
export function lowSSigningKeys(privateJwks: readonly JWK[], signer: SigningThread): ExternalSigningKey[] {
  return privateJwks.map((jwk) => {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.kid !== 'string') throw new Error(`signing key ${String(jwk.kid)} is not an ES256 key`);
    return new LowSSigningKey(jwk as JWK & { kid: string }, signer);
  });
}
