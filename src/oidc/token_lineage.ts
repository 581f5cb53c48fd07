import type { VerifiedAccessToken } from './verified_access_token.js';
import type { RevocationKey } from './revocations.js';
import type { TokenIds } from './token_ids.js';

/**
 * Lineage of tokens obtained by exchanging another access token (RFC 8693 with an access-token
 * subject). Such a token must die with every token it was derived from, whatever ended that one:
 * its revocation, its grant (refresh-token family, consent, sign-out), its client's deletion. The
 * derived token therefore carries, in this claim, one link per ancestor (nearest last):
 *
 *   "exchanged_from": [{"token": "<keyed hash of the ancestor's id>", "client_id": "…", "gid": "…"}]
 *
 * and its activity check looks up every link's keys in the revocation registry, in the same single
 * read as its own jti, client and grant. Revoking any token records `derived_from` = the keyed hash
 * of its id (AccessTokenService.revoke for JWTs, the adapter for opaque tokens the engine revokes),
 * which ends every token derived from it, however far down. API-key session, key and agent
 * revocation reach derived tokens through the claims they inherit (`sid`, `api_key_id`, `sub`).
 *
 * The ancestor is named by a keyed hash (TokenIds), never by its id: an opaque token's id is the
 * token itself, and the derived token may be shown to a resource server.
 *
 * The claim also marks the token as derived: the admin API refuses every such token.
 */
export const LINEAGE_CLAIM = 'exchanged_from';

/** Registry kind: tokens derived from the token whose keyed id hash is the value are revoked. */
export const DERIVED_FROM_KIND = 'derived_from';

/** Exchanges of exchanges are allowed up to this many links (bounds token size and the registry read). */
export const MAX_LINEAGE_DEPTH = 5;

export interface LineageLink {
  /** Keyed hash (TokenIds) of the ancestor's id. */
  readonly token: string;
  readonly client_id: string;
  /** The ancestor's grant, when it had one. */
  readonly gid?: string;
}

function isLink(value: unknown): value is LineageLink {
  if (value === null || typeof value !== 'object') return false;
  const link = value as Record<string, unknown>;
  return typeof link.token === 'string' && /^[0-9a-f]{64}$/.test(link.token)
    && typeof link.client_id === 'string' && link.client_id.length > 0 && link.client_id.length <= 191
    && (link.gid === undefined || (typeof link.gid === 'string' && link.gid.length > 0 && link.gid.length <= 191));
}

/**
 * The token's lineage: `[]` for a token that was not derived, the links of a derived one, and
 * undefined when the claim is there but malformed (such a token is not one Keyport minted: inactive).
 */
export function lineageOf(token: Pick<VerifiedAccessToken, 'claims'>): readonly LineageLink[] | undefined {
  const claim = token.claims[LINEAGE_CLAIM];
  if (claim === undefined) return [];
  if (!Array.isArray(claim) || claim.length === 0 || claim.length > MAX_LINEAGE_DEPTH || !claim.every(isLink)) return undefined;
  return claim;
}

/** Whether the token was obtained by exchanging another access token. */
export function isDerived(token: Pick<VerifiedAccessToken, 'claims'>): boolean {
  return token.claims[LINEAGE_CLAIM] !== undefined;
}

/** The lineage a token derived from `subject` carries: the subject's own, plus the subject. */
export function lineageFrom(subject: VerifiedAccessToken, ids: TokenIds): LineageLink[] | undefined {
  const inherited = lineageOf(subject);
  if (inherited === undefined || inherited.length >= MAX_LINEAGE_DEPTH) return undefined;
  const link: LineageLink = { token: ids.hash(subject.jti), client_id: subject.clientId, ...(subject.grantId ? { gid: subject.grantId } : {}) };
  return [...inherited, link];
}

/** Registry keys of the ancestors (undefined: malformed lineage, treat the token as inactive). */
export function lineageRevocationKeys(token: Pick<VerifiedAccessToken, 'claims'>): RevocationKey[] | undefined {
  const lineage = lineageOf(token);
  if (lineage === undefined) return undefined;
  const keys: RevocationKey[] = [];
  for (const link of lineage) {
    keys.push({ kind: DERIVED_FROM_KIND, value: link.token }, { kind: 'client', value: link.client_id });
    if (link.gid) keys.push({ kind: 'grant', value: link.gid });
  }
  return keys;
}
