import { createPublicKey, webcrypto, type JsonWebKey, type KeyObject } from 'node:crypto';
import { KeyportSigningKey, type ExternalSigningKey, type JWK } from './engine/index.js';
import { toLowS } from './ecdsa_low_s.js';
import { SIGNING_ALG } from './policy.js';

/**
 * One of Keyport's ES256 signing keys as the engine's `ExternalSigningKey` (oidc-provider's
 * `features.externalSigningSupport`): every JWS the engine signs (access tokens, ID tokens)
 * goes through `sign`, which signs with WebCrypto — on libuv's thread pool, as the engine's own
 * path does — and returns the low-S form of the signature (see ecdsa_low_s.ts). The engine
 * publishes the public half through `keyObject()`.
 */
class LowSSigningKey extends KeyportSigningKey {
  private readonly publicKey: KeyObject;
  private privateKey: Promise<webcrypto.CryptoKey> | undefined;

  constructor(private readonly jwk: JWK & { kid: string }) {
    super(jwk.kid, SIGNING_ALG);
    this.publicKey = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JsonWebKey, format: 'jwk' });
  }

  override keyObject(): KeyObject {
    return this.publicKey;
  }

  override async sign(data: Uint8Array): Promise<Uint8Array> {
    this.privateKey ??= webcrypto.subtle.importKey('jwk', this.jwk as webcrypto.JsonWebKey, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const signature = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, await this.privateKey, data);
    return toLowS(new Uint8Array(signature));
  }
}

/** The engine's `jwks.keys` for a key ring: every private ES256 JWK as a low-S signer. */
export function lowSSigningKeys(privateJwks: readonly JWK[]): ExternalSigningKey[] {
  return privateJwks.map((jwk) => {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.kid !== 'string') throw new Error(`signing key ${String(jwk.kid)} is not an ES256 key`);
    return new LowSSigningKey(jwk as JWK & { kid: string });
  });
}
