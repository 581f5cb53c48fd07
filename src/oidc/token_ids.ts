import { deriveKey, keyedHash } from '../lib/crypto.js';
import { isTimeOrderedId, TIME_ORDERED_PREFIX_LENGTH } from '../lib/ids.js';

/**
 * Engine models whose row id in `oidc_payloads` is the engine's id in the clear. The engine also
 * finds these by another column (a session by uid, a device code by user code) and needs the id
 * back from the row. Every other model is found only by its id, so its row id is the id's keyed
 * hash and a copy of the database yields no working token, code or refresh token. A session's id
 * is the value of a cookie signed with a key derived from KEYPORT_SECRET, so a copy alone cannot
 * present it either.
 */
export const CLEAR_ID_MODELS: ReadonlySet<string> = new Set(['Session', 'DeviceCode']);

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
  /** The last id hashed: a lookup asks the same id for several models in a row (introspection: AccessToken, then ClientCredentials). */
  private last: { id: string; hash: string } | undefined;

  constructor(private readonly key: Buffer) {}

  hash(id: string): string {
    if (this.last?.id === id) return this.last.hash;
    const hash = keyedHash(this.key, id);
    this.last = { id, hash };
    return hash;
  }

  /**
   * The `oidc_payloads` row id of a hashed model's id: its keyed hash, behind the id's time part
   * when the id is time-ordered (lib/ids.ts: the grants and refresh tokens Keyport mints). Rows
   * inserted together then share the primary key's last leaf instead of one random leaf each; the
   * time part is no secret (the row's expiry says as much). Engine ids are 21 or 43 characters,
   * never 26 or 69, so rows written before keep the plain hash they were stored under.
   */
  rowId(id: string): string {
    const hash = this.hash(id);
    return isTimeOrderedId(id) ? `${id.slice(0, TIME_ORDERED_PREFIX_LENGTH)}${hash}` : hash;
  }
}

/** The TokenIds of a deployment (the key is derived from KEYPORT_SECRET with purpose `oidc-token-ids`). */
export function tokenIdsFor(secret: string): TokenIds {
  return new TokenIds(deriveKey(secret, 'oidc-token-ids'));
}
