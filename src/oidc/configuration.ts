import type { Config } from '../config/config.js';
import type { AccountDirectory } from './accounts.js';
import { deviceFlowFeature } from './device_flow.js';
import { DPOP_SIGNING_ALGS } from './dpop.js';
import { isMetadataDocumentClient } from './client_metadata_documents.js';
import { isRegisteredClient } from './registration.js';
import { errors, type AccessToken, type Adapter, type Configuration, type EngineClient, type ExternalSigningKey, type KoaContextWithOIDC, type ResourceServerInfo } from './engine/index.js';
import { API_SCOPE_METADATA, CLOCK_TOLERANCE, DEFAULT_ACCESS_TOKEN_TTL, OIDC_SCOPES, SIGNING_ALG, TTL, splitScope } from './policy.js';
import type { ResourceServerPolicy, ResourceServerStore } from './resource_servers.js';
import { PAGE_HEADERS, renderPage } from './views.js';

/** Adds claims to an access token (JWT payload, or `extra` of an opaque token, shown by introspection). */
export type ExtraTokenClaims = (ctx: KoaContextWithOIDC | undefined, token: unknown) => Promise<Record<string, unknown> | undefined> | Record<string, unknown> | undefined;

/** Decides an access token's lifetime in seconds (synchronously, as the engine asks); undefined: no opinion. */
export type AccessTokenTtl = (ctx: KoaContextWithOIDC | undefined, token: AccessToken) => number | undefined;

export interface ProviderDependencies {
  readonly config: Config;
  readonly cookieKeys: string[];
  readonly adapter: (model: string) => Adapter;
  readonly accounts: AccountDirectory;
  readonly resourceServers: ResourceServerStore;
  readonly extraTokenClaims: readonly ExtraTokenClaims[];
  /** Consulted in order before the resource server's TTL (e.g. exchanged tokens live TOKEN_TTL). */
  readonly accessTokenTtls?: readonly AccessTokenTtl[];
  /** The signing keys, as low-S signers (low_s_signing_key.ts). */
  readonly jwks: { keys: ExternalSigningKey[] };
  readonly signingKid: string;
  /** The engine's outgoing requests (a client's jwks_uri), guarded against internal addresses (guarded_fetch.ts). */
  readonly fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** `features.clientIdMetadataDocument` (client_metadata_documents.ts); absent: off. */
  readonly clientIdMetadataDocument?: Record<string, unknown>;
  /** `features.registration` and `features.registrationManagement`, and the shaping of registered metadata (registration.ts); absent: off. */
  readonly dynamicRegistration?: {
    readonly features: { registration: Record<string, unknown>; registrationManagement: Record<string, unknown> };
    shape(ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>): void;
  };
}

/**
 * Bounds on what the engine reads from a fetched document (its default for jwks_uri is
 * unbounded): a JWKS of a few keys is a few KiB.
 */
const FETCH_RESPONSE_BODY_LIMITS = {
  'client_id metadata document': 5 * 1024,
  jwks_uri: 64 * 1024,
  sector_identifier_uri: 64 * 1024,
};

/** Engine routes, all under /oauth/ (docs/reference.md §2: the default /auth would shadow Keyport's /auth/*). */
export const ROUTES = {
  authorization: '/oauth/authorize',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge',
  code_verification: '/oauth/device',
  credential: '/oauth/credential',
  device_authorization: '/oauth/device/auth',
  end_session: '/oauth/logout',
  introspection: '/oauth/introspect',
  jwks: '/oauth/jwks',
  pushed_authorization_request: '/oauth/par',
  registration: '/oauth/register',
  revocation: '/oauth/revoke',
  token: '/oauth/token',
  userinfo: '/oauth/userinfo',
} as const;

/** Cookie names, prefixed so they cannot collide with other cookies on the issuer's host. */
export const COOKIE_NAMES = { session: 'kp_session', interaction: 'kp_interaction', resume: 'kp_interaction_resume' } as const;

function setPageHeaders(ctx: KoaContextWithOIDC): void {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
  ctx.type = 'html';
}

function clientName(ctx: KoaContextWithOIDC): string | undefined {
  const client = ctx.oidc?.client;
  return client ? (client.clientName ?? client.clientId) : undefined;
}

/** The API scopes a client may carry in access tokens (client metadata set by engine_clients.ts). */
export function apiScopesOf(client: EngineClient): string[] {
  const value = (client as unknown as Record<string, unknown>)[API_SCOPE_METADATA];
  return typeof value === 'string' ? splitScope(value) : [];
}

/**
 * The engine's description of an audience (`ResourceServerInfo`): its format, the lifetime and
 * scopes of the token being made, and the signing key for JWTs. The engine's own grants get it
 * from `getResourceServerInfo` below; tokens minted by Keyport (token_minter.ts) set it themselves.
 */
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
 * `getResourceServerInfo`: a registered audience for a client, with the scopes a token for it may
 * carry (the audience's scopes the client is allowed) and the audience's TTL. Unknown audiences
 * are invalid_target.
 */
export async function findResourceServerInfo(resourceServers: ResourceServerStore, signingKid: string, resourceIndicator: string, client: EngineClient): Promise<ResourceServerInfo> {
  const policy = await resourceServers.find(resourceIndicator);
  if (!policy) throw new errors.InvalidTarget(`unknown resource indicator ${resourceIndicator}`);
  // A client known only by its metadata document has no API scopes of its own: the audience's
  // scopes bound what it may get, and the user's consent decides (client_metadata_documents.ts).
  // The same for a dynamically registered client (registration.ts).
  const allowed = isMetadataDocumentClient(client) || isRegisteredClient(client) ? [...(policy.scopes ?? [])] : apiScopesOf(client);
  const scopes = policy.scopes ? allowed.filter((scope) => policy.scopes!.includes(scope)) : allowed;
  return resourceServerInfo(policy, scopes, policy.accessTokenTtl, signingKid);
}

/**
 * oidc-provider's configuration for Keyport. Every engine default that would print a "you SHOULD
 * change" notice is set explicitly, so the engine stays quiet in user logs.
 */
export function buildProviderConfiguration(deps: ProviderDependencies): Configuration {
  const { config, resourceServers } = deps;
  const corsOrigins = new Set(config.corsOrigins);

  return {
    adapter: deps.adapter,
    jwks: deps.jwks,
    findAccount: (ctx, sub, token) => deps.accounts.find(sub, token, ctx),
    claims: { openid: ['sub'], email: ['email'] },
    scopes: [...OIDC_SCOPES],
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: SIGNING_ALG,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    // Keyport stores only a hash of client secrets, so nothing may need the plaintext as a key:
    // no client_secret_jwt, no HS* algorithms, no symmetric encryption.
    enabledJWA: {
      clientAuthSigningAlgValues: ['ES256', 'ES384', 'ES512', 'PS256', 'RS256', 'EdDSA', 'Ed25519'],
      idTokenSigningAlgValues: [SIGNING_ALG],
      userinfoSigningAlgValues: [SIGNING_ALG],
      introspectionSigningAlgValues: [SIGNING_ALG],
      authorizationSigningAlgValues: [SIGNING_ALG],
      requestObjectSigningAlgValues: ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519'],
      // The engine's default, stated: Keyport's own proof checks (dpop.ts) accept the same.
      dPoPSigningAlgValues: [...DPOP_SIGNING_ALGS],
    },
    extraClientMetadata: {
      properties: [API_SCOPE_METADATA],
      validator(ctx, key, value, metadata) {
        if (key === API_SCOPE_METADATA && value !== undefined && typeof value !== 'string') {
          throw new errors.InvalidClientMetadata(`${API_SCOPE_METADATA} must be a string`);
        }
        // Once per client (Keyport has one extra property): what dynamic registration may register.
        if (key === API_SCOPE_METADATA) deps.dynamicRegistration?.shape(ctx, metadata as unknown as Record<string, unknown>);
      },
    },
    clockTolerance: CLOCK_TOLERANCE,
    pkce: {
      // docs/reference.md §2: PKCE S256 is required for public clients; confidential clients may use it.
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },
    rotateRefreshToken: true,
    routes: { ...ROUTES },
    cookies: {
      keys: deps.cookieKeys,
      names: { ...COOKIE_NAMES },
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    clientBasedCORS(ctx, origin, client) {
      if (corsOrigins.has(origin)) return true;
      if (origin === 'null') return false;
      // A browser-based public client may call from the origin of its own redirect URIs.
      if (ctx.oidc.route === 'userinfo' || client.clientAuthMethod === 'none') {
        return client.redirectUris?.some((uri) => URL.parse(uri)?.origin === origin) ?? false;
      }
      return false;
    },
    ttl: {
      AccessToken(ctx, token) {
        for (const decide of deps.accessTokenTtls ?? []) {
          const ttl = decide(ctx, token);
          if (ttl !== undefined) return ttl;
        }
        return token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL;
      },
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? DEFAULT_ACCESS_TOKEN_TTL,
      AuthorizationCode: TTL.AuthorizationCode,
      IdToken: TTL.IdToken,
      Interaction: TTL.Interaction,
      Session: TTL.Session,
      Grant: TTL.Grant,
      DeviceCode: TTL.DeviceCode,
      BackchannelAuthenticationRequest: TTL.BackchannelAuthenticationRequest,
      PreAuthorizedCode: TTL.PreAuthorizedCode,
      RefreshToken(ctx, token, client) {
        // A rotated public-client refresh token keeps the family's remaining lifetime instead of
        // sliding forever (the engine's own rule for public clients).
        const rotated = ctx?.oidc?.entities.RotatedRefreshToken;
        if (rotated && client.clientAuthMethod === 'none' && !token.isSenderConstrained()) return Math.max(rotated.remainingTTL, 1);
        return TTL.RefreshToken;
      },
    },
    fetch: deps.fetch,
    fetchResponseBodyLimits: FETCH_RESPONSE_BODY_LIMITS,
    extraTokenClaims: async (ctx, token) => {
      let claims: Record<string, unknown> | undefined = (token as { extra?: Record<string, unknown> }).extra;
      for (const contribute of deps.extraTokenClaims) {
        const extra = await contribute(ctx, token);
        if (extra) claims = { ...claims, ...extra };
      }
      return claims;
    },
    formats: {
      customizers: {
        // The grant id lets Keyport revoke a whole token family (refresh-token reuse, logout)
        // for JWTs, which the engine does not store.
        jwt(_ctx, token, jwt) {
          const grantId = (token as { grantId?: string }).grantId;
          if (grantId) jwt.payload.gid = grantId;
        },
      },
    },
    features: {
      // Every signature goes through Keyport's signer, which emits only low-S ES256 signatures.
      externalSigningSupport: { enabled: true, ack: 'experimental-01' },
      devInteractions: { enabled: false },
      // Clients without prior registration (client_metadata_documents.ts).
      ...(deps.clientIdMetadataDocument ? { clientIdMetadataDocument: deps.clientIdMetadataDocument } : {}),
      ...(deps.dynamicRegistration ? deps.dynamicRegistration.features : {}),
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      introspection: {
        enabled: true,
        // Resource servers authenticate as confidential clients and may introspect any token; a
        // public client only its own.
        allowedPolicy: async (_ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: only the client the token was issued to may revoke it.
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      resourceIndicators: {
        enabled: true,
        // Without a `resource` parameter tokens are for the issuer (Keyport's own APIs and any
        // resource server that accepts the issuer as audience).
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? resourceServers.defaultAudience,
        useGrantedResource: async () => false,
        getResourceServerInfo: (_ctx, resourceIndicator, client) => findResourceServerInfo(resourceServers, deps.signingKid, resourceIndicator, client),
      },
      // RFC 8628 (device_flow.ts): on unless DEVICE_FLOW=false; discovery advertises it only when on.
      deviceFlow: deviceFlowFeature(config, ROUTES.code_verification),
      // RFC 9449: proofs accepted at the token endpoint for every grant; replays refused through the
      // shared store (proof_replay.ts). No server nonces; a client may require DPoP (`--require-dpop`).
      dPoP: { enabled: true, allowReplay: false },
      // RFC 9126: always served; required for every client with PAR_REQUIRED, or per client (`--require-par`).
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: config.deviceAndPar.parRequired, allowUnregisteredRedirectUris: false },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          setPageHeaders(ctx);
          ctx.body = await renderPage('logout', { title: 'Sign out', form, clientName: clientName(ctx) });
        },
        async postLogoutSuccessSource(ctx) {
          setPageHeaders(ctx);
          ctx.body = await renderPage('logged_out', { title: 'Signed out', clientName: clientName(ctx) });
        },
      },
    },
    async renderError(ctx, out) {
      setPageHeaders(ctx);
      ctx.body = await renderPage('error', {
        title: 'Something went wrong',
        message: out.error_description ?? 'The request could not be completed.',
        code: out.error,
        requestId: (ctx.state as { requestId?: string }).requestId,
      });
    },
  };
}
