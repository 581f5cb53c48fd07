import { TOKEN_EXCHANGE_GRANT } from '../clients/grant_types.js';
import type { EngineClient, Provider, ResourceServerInfo } from '../oidc/engine/index.js';
import { SIGNING_ALG } from '../oidc/policy.js';
import type { ResourceServerPolicy } from '../oidc/resource_servers.js';

/** What a new access token (and optionally its refresh token) is made of. */
export interface MintRequest {
  readonly provider: Provider;
  /** The kid the current provider signs with (read in the same tick as `provider`). */
  readonly signingKid: string;
  readonly client: EngineClient;
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
}

export interface MintedTokens {
  readonly accessToken: string;
  readonly jti: string;
  /** Epoch seconds. */
  readonly iat: number;
  readonly exp: number;
  readonly grantId: string | undefined;
  readonly refreshToken: string | undefined;
}

const epoch = (): number => Math.floor(Date.now() / 1000);

/** The engine's view of the audience, as `getResourceServerInfo` (src/oidc/configuration.ts) would give it. */
export function resourceServerInfo(policy: ResourceServerPolicy, scopes: readonly string[], lifetime: number, signingKid: string): ResourceServerInfo {
  return {
    scope: scopes.join(' '),
    audience: policy.audience,
    accessTokenTTL: lifetime,
    accessTokenFormat: policy.format,
    ...(policy.format === 'jwt' ? { jwt: { sign: { alg: SIGNING_ALG, kid: signingKid } } } : {}),
  };
}

/**
 * Mints tokens through the engine's own models, so they are ordinary Keyport tokens: signed with
 * the current key, stored (opaque tokens, refresh tokens, grants) through the adapter, counted by
 * the metrics listener, understood by introspection, revocation and the engine's refresh grant.
 * Works inside a token-endpoint request and outside one (`/auth/login`).
 */
export async function mintTokens(request: MintRequest): Promise<MintedTokens> {
  const { provider, client, policy, scopes } = request;
  const scope = scopes.join(' ');
  const audience = policy.audience;
  const iat = epoch();
  // The grant, the access token and the refresh token are saved at once, not one after the other:
  // the grant's id is known as soon as its save starts, nothing reads the grant before this
  // returns, and the adapter sends writes of the same event-loop turn as one statement
  // (PayloadStore.upsert), so a new session costs one payload write instead of two round trips.
  const saves: Array<Promise<string>> = [];

  let grantId = request.grantId;
  if (request.refreshLifetime !== undefined) {
    const grant = new provider.Grant({ accountId: request.accountId, clientId: client.clientId });
    grant.addResourceScope(audience, scope);
    Object.assign(grant, { iat, exp: iat + request.refreshLifetime });
    saves.push(grant.save());
    // save() assigns the id synchronously, before its first await.
    grantId = grant.jti;
  }

  const at = new provider.AccessToken({
    client,
    accountId: request.accountId as string,
    grantId: grantId as string,
    gty: TOKEN_EXCHANGE_GRANT,
    scope,
    sid: request.sid,
    extra: { ...request.claims },
    iat,
    exp: iat + request.lifetime,
  });
  at.resourceServer = new provider.ResourceServer(audience, resourceServerInfo(policy, scopes, request.lifetime, request.signingKid));
  const accessTokenSaved = at.save();

  let refreshTokenSaved: Promise<string> | undefined;
  if (request.refreshLifetime !== undefined) {
    const rt = new provider.RefreshToken({
      client,
      accountId: request.accountId as string,
      grantId: grantId as string,
      gty: TOKEN_EXCHANGE_GRANT,
      resource: audience,
      scope,
      sid: request.sid,
      rotations: 0,
      iat,
      exp: iat + request.refreshLifetime,
    });
    refreshTokenSaved = rt.save();
  }

  const [accessToken, refreshToken] = await Promise.all([accessTokenSaved, refreshTokenSaved, ...saves]);
  if (typeof grantId !== 'string' && request.refreshLifetime !== undefined) throw new Error('the grant was saved without an id');
  return { accessToken, jti: at.jti, iat, exp: iat + request.lifetime, grantId, refreshToken };
}

/**
 * A further refresh token in an existing grant (a repeat login whose earlier refresh token was
 * already used). Same shape as the first one; the grant decides what it may refresh to.
 */
export async function mintRefreshToken(request: Pick<MintRequest, 'provider' | 'client' | 'accountId' | 'scopes' | 'sid'> & { grantId: string; audience: string; lifetime: number }): Promise<string> {
  const iat = epoch();
  const rt = new request.provider.RefreshToken({
    client: request.client,
    accountId: request.accountId as string,
    grantId: request.grantId,
    gty: TOKEN_EXCHANGE_GRANT,
    resource: request.audience,
    scope: request.scopes.join(' '),
    sid: request.sid,
    rotations: 0,
    iat,
    exp: iat + request.lifetime,
  });
  return rt.save();
}
