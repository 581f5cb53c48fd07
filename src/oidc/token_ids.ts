import { keyedHash } from '../lib/crypto.js';

/**
 * The keyed hash Keyport records instead of an engine token id (for opaque tokens, codes and
 * refresh tokens the id is the credential itself). HMAC-SHA-256 under a key derived from
 * KEYPORT_SECRET (purpose `oidc-token-ids`), hex: a database dump of these values yields no
 * working token, and nobody without the secret can compute them from a token they saw.
 *
 * Used for the row ids of `oidc_payloads` (the adapter stores and looks rows up by this hash) and
 * for the lineage of exchanged tokens (a derived token names its ancestors by this hash, so a
 * derived JWT never carries an opaque subject's value).
 */
export class TokenIds {
  constructor(private readonly key: Buffer) {}

  hash(id: string): string {
    return keyedHash(this.key, id);
  }
}
