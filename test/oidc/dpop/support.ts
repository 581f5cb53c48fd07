import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

/** A DPoP key pair with its public JWK and RFC 7638 thumbprint (what `cnf.jkt` must be). */
export interface DpopKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: Record<string, unknown>;
  jkt: string;
}

export async function dpopKey(alg: 'ES256' | 'Ed25519' = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey) as Record<string, unknown>;
  return { privateKey, publicKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

export interface ProofOptions {
  jti?: string;
  iat?: number;
  ath?: string;
  typ?: string;
  alg?: string;
  extra?: Record<string, unknown>;
}

/** A DPoP proof JWT (RFC 9449 §4.2) made by hand, so tests can also make bad ones. */
export async function proof(key: DpopKey, htm: string, htu: string, options: ProofOptions = {}): Promise<string> {
  return new SignJWT({ htm, htu, jti: options.jti ?? randomUUID(), ...(options.ath ? { ath: options.ath } : {}), ...options.extra })
    .setProtectedHeader({ alg: options.alg ?? 'ES256', typ: options.typ ?? 'dpop+jwt', jwk: key.jwk as never })
    .setIssuedAt(options.iat ?? Math.floor(Date.now() / 1000))
    .sign(key.privateKey);
}
