import { resourceServerInfo } from './configuration.js';
import { errors, type AccessToken, type KoaContextWithOIDC } from './engine/index.js';
import type { ProviderHost } from './provider_host.js';
import type { ResourceServerStore } from './resource_servers.js';

export interface AccessTokenRequest {
  /** Whom the token is about (`usr_…`, `agt_…`): its `sub`. Omit for a token about the client itself. */
  accountId?: string;
  /** Wanted scopes; the token gets those the audience understands and the client may have. */
  scopes: readonly string[];
  /** The audience (RFC 8707 resource); default: the issuer. */
  resource?: string;
  /** The grant the token belongs to: revoking the grant (or refresh-token reuse) revokes the token. */
  grantId?: string;
  /** Recorded as the token's `gty`, e.g. `urn:ietf:params:oauth:grant-type:token-exchange`. */
  grantType: string;
  /** Lifetime in seconds (e.g. config.tokenTtl); default: the audience's. */
  ttl?: number;
  /** Claims for this token only (hooks added with `addExtraTokenClaims` apply as well). */
  extra?: Record<string, unknown>;
}

export interface MintedAccessToken {
  /** The token to hand out (a JWT, or an opaque value for an opaque audience). */
  value: string;
  /** Seconds until it expires (`expires_in`). */
  expiresIn: number;
  /** The scope it carries, space-separated ('' when none). */
  scope: string;
  token: AccessToken;
}

export interface RefreshTokenRequest {
  accountId: string;
  /** A grant from `createGrant` for the same client and account. */
  grantId: string;
  scopes: readonly string[];
  resource?: string;
  grantType: string;
}

/**
 * Mints engine tokens from a custom grant handler (`provider.registerGrantType`), so they are
 * ordinary oidc-provider tokens: JWT or opaque per audience, signed with the current key, counted
 * in metrics, introspectable and revocable, refreshable at the token endpoint. Every method takes
 * the token endpoint's `ctx` (the client is `ctx.oidc.client`).
 */
export class TokenMinter {
  constructor(private readonly host: ProviderHost, private readonly resourceServers: ResourceServerStore) {}

  async accessToken(ctx: KoaContextWithOIDC, request: AccessTokenRequest): Promise<MintedAccessToken> {
    const { provider, client } = ctx.oidc;
    if (!client) throw new errors.InvalidClient('client not authenticated');
    const resource = request.resource ?? this.resourceServers.defaultAudience;
    const info = await resourceServerInfo(this.resourceServers, this.host.keyRing.signingKid, resource, client);
    const token = new provider.AccessToken({
      accountId: request.accountId,
      client,
      grantId: request.grantId,
      gty: request.grantType,
      ...(request.ttl ? { expiresIn: request.ttl } : {}),
    } as ConstructorParameters<typeof provider.AccessToken>[0]);
    token.resourceServer = new provider.ResourceServer(resource, info);
    const allowed = new Set(info.scope.split(' '));
    const scope = request.scopes.filter((wanted) => allowed.has(wanted)).join(' ');
    token.scope = scope || undefined;
    if (request.extra) (token as { extra?: Record<string, unknown> }).extra = { ...request.extra };
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    return { value, expiresIn: token.expiration, scope, token };
  }

  /** A grant (the consent record a refresh-token family hangs on) for `ctx.oidc.client`. */
  async createGrant(ctx: KoaContextWithOIDC, request: { accountId: string; scopes: readonly string[]; resource?: string }): Promise<string> {
    const { provider, client } = ctx.oidc;
    if (!client) throw new errors.InvalidClient('client not authenticated');
    const grant = new provider.Grant({ accountId: request.accountId, clientId: client.clientId });
    grant.addResourceScope(request.resource ?? this.resourceServers.defaultAudience, request.scopes.join(' '));
    return grant.save();
  }

  /** A refresh token usable at the token endpoint (`grant_type=refresh_token`), rotating on use. */
  async refreshToken(ctx: KoaContextWithOIDC, request: RefreshTokenRequest): Promise<string> {
    const { provider, client } = ctx.oidc;
    if (!client) throw new errors.InvalidClient('client not authenticated');
    const token = new provider.RefreshToken({
      accountId: request.accountId,
      client,
      grantId: request.grantId,
      gty: request.grantType,
      scope: request.scopes.join(' '),
      resource: request.resource ?? this.resourceServers.defaultAudience,
      rotations: 0,
    } as ConstructorParameters<typeof provider.RefreshToken>[0]);
    ctx.oidc.entity('RefreshToken', token);
    return token.save();
  }
}
