import type { AccessToken, ClientCredentials, Provider } from './engine/index.js';
import type { PayloadStore } from './adapter.js';
import { Es256KeySet, SignatureError, decodeJwsHeader } from './jwt_signature.js';
import { CLOCK_TOLERANCE, splitScope } from './policy.js';
import type { ProviderHost } from './provider_host.js';
import type { RevocationKey, RevocationRegistry } from './revocations.js';
import type { TokenIds } from './token_ids.js';
import type { VerifiedAccessToken } from './verified_access_token.js';
import { DERIVED_FROM_KIND, lineageRevocationKeys } from './token_lineage.js';
import { VerifiedJwsCache } from './verified_jws_cache.js';

export type { VerifiedAccessToken } from './verified_access_token.js';

/** The DPoP key thumbprint a token is bound to (`cnf.jkt`, RFC 9449 §6), if any. */
export function dpopThumbprintOf(token: Pick<VerifiedAccessToken, 'claims'>): string | undefined {
  const jkt = (token.claims.cnf as { jkt?: unknown } | undefined)?.jkt;
  return typeof jkt === 'string' ? jkt : undefined;
}

/** Another reason a token may be inactive (its API key revoked, its session ended…). */
export type ActivityCheck = (token: VerifiedAccessToken) => Promise<boolean>;
/** More registry keys to look up in the same read as jti/grant/client (e.g. `session`, `api_key`). */
export type RevocationKeys = (token: VerifiedAccessToken) => RevocationKey[];

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const OPAQUE_SHAPE = /^[A-Za-z0-9_-]{16,191}$/;
const MAX_TOKEN_LENGTH = 8192;
const KEY_RELOAD_THROTTLE_MS = 5000;

/** Claims the introspection answer builds itself; everything else in a JWT is passed through. */
const REGISTERED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope', 'gid', 'cnf']);
/** Claims every Keyport access token carries (RFC 9068 §2.2). */
const REQUIRED_CLAIMS = ['jti', 'sub', 'exp', 'iat', 'client_id'] as const;

/** RFC 9068 `typ`: `at+jwt`, or the full media type `application/at+jwt`, any case (as jose compares it). */
function isAccessTokenType(typ: unknown): boolean {
  return typeof typ === 'string' && typ.toLowerCase().replace(/^application\//, '') === 'at+jwt';
}

/**
 * Whether a token is a JWS (three base64url segments, the first a JSON object): what the engine's
 * `rejectStructuredTokens` calls structured. Decoded here rather than with jose's
 * `decodeProtectedHeader` (the engine's test), which showed at ~3 % of JWT introspection; for
 * strings of this shape both decide alike (see decodeJwsHeader).
 */
export function looksLikeJwt(token: string): boolean {
  if (token === lastShapeCheck.token) return lastShapeCheck.result;
  const result = token.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(token) && decodeJwsHeader(token.slice(0, token.indexOf('.'))) !== undefined;
  lastShapeCheck = { token, result };
  return result;
}

/**
 * The last string `looksLikeJwt` decided (a pure function of it): an introspection asks three
 * times about the same token (the route's choice between JWT and opaque, `verify`, `verifyJwt`),
 * and each answer took ~4–6 µs under load (the regular expression over the whole token, the
 * header's base64 and JSON).
 */
let lastShapeCheck: { token: string; result: boolean } = { token: '', result: false };

/**
 * Verification, introspection and revocation of every access token Keyport issues. The engine
 * stores opaque tokens but not JWTs (and refuses to introspect or revoke them); for JWTs Keyport
 * checks the signature against its own keys, the expiry, and the revocation registry (jti, grant,
 * client, plus keys other features add), then any activity checks other features registered.
 */
export class AccessTokenService {
  private readonly activityChecks: ActivityCheck[] = [];
  private readonly revocationKeys: RevocationKeys[] = [];
  private lastKeyReload = 0;
  /**
   * The public keys of the current key ring, imported once per ring (not per token), and the
   * tokens they verified (dropped with the ring: a key that left it must stop verifying).
   */
  private keySet: { fingerprint: string; keys: Es256KeySet; verified: VerifiedJwsCache } | undefined;

  constructor(
    private readonly host: ProviderHost,
    private readonly registry: RevocationRegistry,
    private readonly payloads: PayloadStore,
    private readonly issuer: string,
    private readonly maxAccessTokenTtl: number,
    private readonly ids: TokenIds,
  ) {}

  /** Adds a check every token must pass to be active (e.g. "its API key is not revoked"). */
  addActivityCheck(check: ActivityCheck): void {
    this.activityChecks.push(check);
  }

  /** Adds registry keys derived from a token, checked in the same single read as the built-in ones. */
  addRevocationKeys(keys: RevocationKeys): void {
    this.revocationKeys.push(keys);
  }

  /** The token when active (signature, expiry, revocation, activity checks); undefined otherwise. */
  async verify(token: string): Promise<VerifiedAccessToken | undefined> {
    if (typeof token !== 'string' || token.length === 0) return undefined;
    const verified = looksLikeJwt(token) ? await this.verifyJwt(token) : await this.findOpaque(token);
    if (!verified) return undefined;
    return (await this.isActive(verified)) ? verified : undefined;
  }

  /**
   * A JWT whose signature, issuer, type and expiry are valid, without the revocation and activity
   * checks (revocation needs exactly this: a token that was once valid).
   */
  async verifyJwt(token: string): Promise<VerifiedAccessToken | undefined> {
    if (!looksLikeJwt(token)) return undefined;
    await this.host.ready();
    let payload: Record<string, unknown> | undefined;
    try {
      payload = this.verifySignature(token);
    } catch (err) {
      if (!(err instanceof SignatureError) || err.reason !== 'unknown_key' || !(await this.reloadKeys())) return undefined;
      try {
        payload = this.verifySignature(token);
      } catch {
        return undefined;
      }
    }
    if (!payload) return undefined;
    const { jti, sub, exp, iat } = payload;
    const aud = payload.aud as string | string[] | undefined;
    const clientId = payload.client_id;
    if (typeof jti !== 'string' || typeof sub !== 'string' || typeof clientId !== 'string' || typeof exp !== 'number' || typeof iat !== 'number') return undefined;
    const grantId = typeof payload.gid === 'string' ? payload.gid : undefined;
    return {
      format: 'jwt',
      jti,
      sub,
      accountId: sub !== clientId || grantId ? sub : undefined,
      clientId,
      scopes: splitScope(typeof payload.scope === 'string' ? payload.scope : ''),
      exp,
      iat,
      aud,
      grantId,
      claims: payload,
    };
  }

  /** An opaque access token the engine stored and still considers valid (including its grant). */
  async findOpaque(token: string): Promise<VerifiedAccessToken | undefined> {
    const model = await this.findOpaqueModel(token);
    return model ? this.fromModel(model) : undefined;
  }

  /**
   * The engine's model of a stored, unexpired opaque access token whose grant (if any) holds,
   * found as the engine's introspection finds it (AccessToken first, then ClientCredentials; both
   * asked at once, so the adapter reads them in one query). Without Keyport's activity checks.
   */
  async findOpaqueModel(token: string): Promise<AccessToken | ClientCredentials | undefined> {
    if (!OPAQUE_SHAPE.test(token)) return undefined;
    const provider = await this.host.ready();
    const [accessToken, clientCredentials] = await Promise.all([provider.AccessToken.find(token), provider.ClientCredentials.find(token)]);
    const model = accessToken ?? clientCredentials;
    if (!model || model.isExpired) return undefined;
    if (!(await this.grantHolds(provider, model))) return undefined;
    return model;
  }

  /** The engine's token model as a VerifiedAccessToken (for post-checks of the engine's own answers). */
  fromModel(model: AccessToken | ClientCredentials): VerifiedAccessToken {
    const accountId = 'accountId' in model && typeof model.accountId === 'string' ? model.accountId : undefined;
    const grantId = 'grantId' in model && typeof model.grantId === 'string' ? model.grantId : undefined;
    const extra = (model.extra ?? {}) as Record<string, unknown>;
    const claims: Record<string, unknown> = {
      ...extra,
      iss: this.issuer,
      sub: accountId ?? model.clientId,
      aud: model.aud,
      exp: model.exp,
      iat: model.iat,
      jti: model.jti,
      client_id: model.clientId,
      scope: model.scope,
      ...(model.jkt ? { cnf: { jkt: model.jkt } } : {}),
    };
    return {
      format: 'opaque',
      jti: model.jti,
      sub: accountId ?? model.clientId!,
      accountId,
      clientId: model.clientId!,
      scopes: splitScope(model.scope),
      exp: model.exp!,
      iat: model.iat!,
      aud: model.aud,
      grantId,
      claims,
    };
  }

  /** Registry and activity checks (signature and expiry already checked). */
  async isActive(token: VerifiedAccessToken): Promise<boolean> {
    if (token.exp <= Math.floor(Date.now() / 1000)) return false;
    const keys: RevocationKey[] = [{ kind: 'jti', value: token.jti }, { kind: 'client', value: token.clientId }];
    if (token.grantId) keys.push({ kind: 'grant', value: token.grantId });
    // A token obtained by exchange dies with every token it was derived from (token_lineage.ts).
    const lineage = lineageRevocationKeys(token);
    if (!lineage) return false;
    keys.push(...lineage);
    for (const more of this.revocationKeys) keys.push(...more(token));
    if (await this.registry.isRevoked(keys, token.iat)) return false;
    for (const check of this.activityChecks) {
      if (!(await check(token))) return false;
    }
    return true;
  }

  /**
   * Revokes a token. Like the engine does for opaque access tokens, the rest of its grant's family
   * (refresh tokens, other access tokens) goes too; the grant itself (the user's consent) stays.
   * Every token exchanged from it (at any depth) goes as well: they never outlive it, so the
   * `derived_from` record needs to last only as long as the token itself.
   */
  async revoke(token: VerifiedAccessToken): Promise<void> {
    const until = new Date(Math.max(token.exp, Math.floor(Date.now() / 1000)) * 1000 + CLOCK_TOLERANCE * 1000);
    await this.registry.revoke({ kind: 'jti', value: token.jti }, until);
    await this.registry.revoke({ kind: DERIVED_FROM_KIND, value: this.ids.hash(token.jti) }, until);
    if (token.grantId) {
      await this.registry.revoke({ kind: 'grant', value: token.grantId }, new Date(Date.now() + (this.maxAccessTokenTtl + CLOCK_TOLERANCE) * 1000));
      await this.payloads.deleteGrantFamily(token.grantId);
    }
  }

  /**
   * RFC 7662 answer for an active token (the same fields the engine returns for opaque tokens):
   * the token's own claims first, in their order, then the registered ones.
   *
   * Built property by property: the former `{ ...Object.fromEntries(Object.entries(claims)
   * .filter(…)), active, sub, … }` cost ~18 µs for an API-key token's 14 claims (the spread of a
   * dictionary-mode object), against ~2.5 µs this way (micro-benchmark, stringify included; 6 % of
   * the server's CPU in API-key introspection profiles). Same keys, same order, same values: a
   * claim named like a registered field keeps its place and takes the registered value, as with
   * the spread.
   */
  introspection(token: VerifiedAccessToken): Record<string, unknown> {
    const { claims } = token;
    const answer: Record<string, unknown> = {};
    for (const name of Object.keys(claims)) {
      if (REGISTERED_CLAIMS.has(name)) continue;
      // `__proto__` as an own property (it can be one in parsed JSON), as the spread copied it.
      if (name === '__proto__') Object.defineProperty(answer, name, { value: claims[name], enumerable: true, writable: true, configurable: true });
      else answer[name] = claims[name];
    }
    answer.active = true;
    answer.sub = token.sub;
    answer.client_id = token.clientId;
    answer.exp = token.exp;
    answer.iat = token.iat;
    answer.iss = this.issuer;
    answer.jti = token.jti;
    answer.aud = token.aud;
    answer.scope = token.scopes.length ? token.scopes.join(' ') : undefined;
    // As the engine answers for its stored tokens: the confirmation, then the type it implies (RFC 9449 §6.2).
    if (claims.cnf) answer.cnf = claims.cnf;
    answer.token_type = dpopThumbprintOf(token) ? 'DPoP' : 'Bearer';
    return answer;
  }

  /**
   * The payload when the signature is ours and the token is a current access token of this
   * issuer (type, required claims, expiry and not-before with the clock tolerance); undefined
   * when the claims are wrong; throws SignatureError when the signature is.
   */
  private verifySignature(token: string): Record<string, unknown> | undefined {
    const ring = this.host.keyRing;
    if (this.keySet?.fingerprint !== ring.fingerprint) {
      this.keySet = { fingerprint: ring.fingerprint, keys: new Es256KeySet(ring.publicJwks), verified: new VerifiedJwsCache() };
    }
    let jws = this.keySet.verified.get(token);
    if (!jws) {
      jws = this.keySet.keys.verify(token);
      this.keySet.verified.set(token, jws);
    }
    const { header, payload } = jws;
    if (!isAccessTokenType(header.typ) || payload.iss !== this.issuer) return undefined;
    if (REQUIRED_CLAIMS.some((claim) => !(claim in payload))) return undefined;
    const now = Math.floor(Date.now() / 1000);
    const { exp, iat, nbf } = payload;
    if (typeof exp !== 'number' || exp <= now - CLOCK_TOLERANCE) return undefined;
    if (typeof iat !== 'number') return undefined;
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + CLOCK_TOLERANCE)) return undefined;
    return payload;
  }

  /** A token signed by a key this instance has not loaded yet (rotated elsewhere): reload once. */
  private async reloadKeys(): Promise<boolean> {
    if (Date.now() - this.lastKeyReload < KEY_RELOAD_THROTTLE_MS) return false;
    this.lastKeyReload = Date.now();
    const before = this.host.keyRing.fingerprint;
    await this.host.reload();
    return this.host.keyRing.fingerprint !== before;
  }

  /** The engine's own rule for grant-bound tokens: the grant must exist and match. */
  private async grantHolds(provider: Provider, model: AccessToken | ClientCredentials): Promise<boolean> {
    const grantId = 'grantId' in model ? model.grantId : undefined;
    if (!grantId) return true;
    const grant = await provider.Grant.find(grantId, { ignoreExpiration: true });
    return Boolean(grant && !grant.isExpired && grant.clientId === model.clientId && grant.accountId === (model as AccessToken).accountId);
  }
}
