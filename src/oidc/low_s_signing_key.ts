import { createPrivateKey, createPublicKey, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { KeyportSigningKey, type ExternalSigningKey, type JWK } from './engine/index.js';
import { toLowS } from './ecdsa_low_s.js';
import { SIGNING_ALG } from './policy.js';

/**
 * One of Keyport's ES256 signing keys as the engine's `ExternalSigningKey` (oidc-provider's
 * `features.externalSigningSupport`): every JWS the engine signs (access tokens, ID tokens)
 * goes through `sign`, which signs on libuv's thread pool, as the engine's own path does, and
 * returns the low-S form of the signature (see ecdsa_low_s.ts). The engine publishes the public
 * half through `keyObject()`.
 *
 * Signed with `crypto.sign` and a callback (a sign job on the thread pool), not WebCrypto's
 * `subtle.sign`: with 32 signatures in flight (bench/micro/es256_signing.ts), 8–14 µs of event
 * loop and 37–45 µs of CPU in all a signature, against 15–19 µs and 45–56 µs (WebCrypto's job, its
 * promise and its argument checks); the signature is the same (ECDSA P-256 over SHA-256, r‖s).
 */
class LowSSigningKey extends KeyportSigningKey {
  private readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject;

  constructor(jwk: JWK & { kid: string }) {
    super(jwk.kid, SIGNING_ALG);
    this.publicKey = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JsonWebKey, format: 'jwk' });
    this.privateKey = createPrivateKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' });
  }

  override keyObject(): KeyObject {
    return this.publicKey;
  }

  override sign(data: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      sign('sha256', data, { key: this.privateKey, dsaEncoding: 'ieee-p1363' }, (err, signature) => {
        if (err) reject(err);
        else resolve(toLowS(signature));
      });
    });
  }
}

/** The engine's `jwks.keys` for a key ring: every private ES256 JWK as a low-S signer. */
export function lowSSigningKeys(privateJwks: readonly JWK[]): ExternalSigningKey[] {
  return privateJwks.map((jwk) => {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.kid !== 'string') throw new Error(`signing key ${String(jwk.kid)} is not an ES256 key`);
    return new LowSSigningKey(jwk as JWK & { kid: string });
  });
}
