import { type Clock, epochSeconds, systemClock } from '../lib/clock.js';
import { timeOrderedId, timeOrderedToken } from '../lib/ids.js';
import { resourceServerInfo } from './configuration.js';
import type { EngineClient, Provider } from './engine/index.js';
import type { ResourceServerPolicy } from './resource_servers.js';

/** What a new access token (and optionally its refresh token) is made of. */
export interface MintRequest {
  readonly provider: Provider;
  /** The kid the current provider signs with (read in the same tick as `provider`). */
  readonly signingKid: string;
  readonly client: EngineClient;
  /** Recorded as the tokens' `gty`, e.g. `urn:ietf:params:oauth:grant-type:token-exchange` (the engine's hooks tell families apart by it). */
  readonly grantType: string;
  /** `sub`: the agent (or the subject of an exchanged token). */
  readonly accountId: string | undefined;
  readonly scopes: readonly string[];
  readonly policy: ResourceServerPolicy;
  /** Seconds. */
  readonly lifetime: number;
  /** Keyport's claims (api_key_id, session_id, sid…), in the JWT payload or the opaque token's `extra`. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The API-key session (`ses_…`) the tokens belong to: refresh finds the session through it. */
  readonly sid: string | undefined;
  /** Issue a refresh token in a new grant, living this many seconds. */
  readonly refreshLifetime?: number;
  /** Put the access token in this existing grant instead (a narrower token of the same family). */
  readonly grantId?: string;
  /** Whose "now" is `iat` (default: the system clock). */
  readonly clock?: Clock;
  /**
   * RFC 9449: bind the access token to this DPoP key (its RFC 7638 thumbprint, from a verified
   * proof): `cnf.jkt` in the JWT or the stored opaque token, `token_type` DPoP.
   */
  readonly dpopJkt?: string;
}

export interface MintedTokens {
  readonly accessToken: string;
  readonly jti: string;
  /** Epoch seconds. */
  readonly iat: number;
  readonly exp: number;
  readonly grantId: string | undefined;
  readonly refreshToken: string | undefined;
  /** `DPoP` when bound to a DPoP key, else `Bearer` (the engine's own `tokenType`). */
  readonly tokenType: 'Bearer' | 'DPoP';
}

/**
 * Keyport's one minter of engine tokens outside the engine's own grants (`/auth/login`, the RFC
 * 8693 grant, any custom grant registered through `OidcServices.extendProvider`). It mints through
 * the engine's own models, so they are ordinary Keyport tokens: signed with the current key, stored
 * (opaque tokens, refresh tokens, grants) through the adapter, counted by the metrics listener,
 * understood by introspection, revocation and the engine's refresh grant. Works inside a
 * token-endpoint request and outside one (`/auth/login`). The caller decides the scopes: they go
 * into the token as given (narrow them to what the client and the audience allow first).
 */
export async function mintTokens(request: MintRequest): Promise<MintedTokens> {
  const { provider, client, policy, scopes } = request;
  const scope = scopes.join(' ');
  const audience = policy.audience;
  const iat = epochSeconds(request.clock ?? systemClock);
  // The grant, the access token and the refresh token are saved at once, not one after the other:
  // the grant's id is known as soon as its save starts, nothing reads the grant before this
  // returns, and the adapter sends writes of the same event-loop turn as one statement
  // (PayloadStore.upsert), so a new session costs one payload write instead of two round trips.
  const saves: Array<Promise<string>> = [];

  let grantId = request.grantId;
  if (request.refreshLifetime !== undefined) {
    const grant = new provider.Grant({ accountId: request.accountId, clientId: client.clientId });
    grant.addResourceScope(audience, scope);
    // A time-ordered id (save() keeps one it is given): the grant's row id and the refresh token's
    // grantId column then grow with time (lib/ids.ts, TokenIds.rowId).
    Object.assign(grant, { jti: timeOrderedId(), iat, exp: iat + request.refreshLifetime });
    saves.push(grant.save());
    // save() assigns the id synchronously, before its first await.
    grantId = grant.jti;
  }

  const at = new provider.AccessToken({
    client,
    accountId: request.accountId as string,
    grantId: grantId as string,
    gty: request.grantType,
    scope,
    sid: request.sid,
    extra: { ...request.claims },
    iat,
    exp: iat + request.lifetime,
  });
  // The engine's own binding (as its grants do after checking the proof): cnf.jkt in the JWT or stored payload.
  if (request.dpopJkt) (at as unknown as { setThumbprint(kind: 'jkt', value: string): void }).setThumbprint('jkt', request.dpopJkt);
  at.resourceServer = new provider.ResourceServer(audience, resourceServerInfo(policy, scopes, request.lifetime, request.signingKid));
  const accessTokenSaved = at.save();

  let refreshTokenSaved: Promise<string> | undefined;
  if (request.refreshLifetime !== undefined) {
    const rt = new provider.RefreshToken({
      client,
      accountId: request.accountId as string,
      grantId: grantId as string,
      gty: request.grantType,
      resource: audience,
      scope,
      sid: request.sid,
      rotations: 0,
      iat,
      exp: iat + request.refreshLifetime,
    });
    timeOrdered(rt);
    refreshTokenSaved = rt.save();
  }

  const [accessToken, refreshToken] = await Promise.all([accessTokenSaved, refreshTokenSaved, ...saves]);
  if (typeof grantId !== 'string' && request.refreshLifetime !== undefined) throw new Error('the grant was saved without an id');
  return { accessToken, jti: at.jti, iat, exp: iat + request.lifetime, grantId, refreshToken, tokenType: request.dpopJkt ? 'DPoP' : 'Bearer' };
}

/**
 * A further refresh token in an existing grant (a repeat login whose earlier refresh token was
 * already used). Same shape as the first one; the grant decides what it may refresh to.
 */
export async function mintRefreshToken(request: Pick<MintRequest, 'provider' | 'client' | 'grantType' | 'accountId' | 'scopes' | 'sid' | 'clock'> & { grantId: string; audience: string; lifetime: number }): Promise<string> {
  const iat = epochSeconds(request.clock ?? systemClock);
  const rt = new request.provider.RefreshToken({
    client: request.client,
    accountId: request.accountId as string,
    grantId: request.grantId,
    gty: request.grantType,
    resource: request.audience,
    scope: request.scopes.join(' '),
    sid: request.sid,
    rotations: 0,
    iat,
    exp: iat + request.lifetime,
  });
  timeOrdered(rt);
  return rt.save();
}

/**
 * Gives a refresh token a time-ordered value (save() keeps the id it is given): its row id then
 * grows with time like the grant's (lib/ids.ts). 256 random bits follow the time part, as many as
 * the engine's own opaque tokens carry.
 */
function timeOrdered(refreshToken: { jti?: string }): void {
  refreshToken.jti = timeOrderedToken();
}
