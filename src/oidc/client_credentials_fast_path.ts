import type { KeyportContext, Middleware } from '../http/context.js';
import { ROUTES, findResourceServerInfo } from './configuration.js';
import { authenticateWithSecret, type EngineClient, type Provider } from './engine/index.js';
import { admissibleForm, answerInFrontOfEngine, parseFastPathForm, secretCredentialsOf, type FastPathAnswer } from './fast_path.js';
import type { ProviderHost } from './provider_host.js';
import type { ResourceServerStore } from './resource_servers.js';

/** Body parameters handled here; anything else (client assertions, RAR, unknown names) goes to the engine. */
const PARAMETERS: ReadonlySet<string> = new Set(['grant_type', 'scope', 'resource', 'client_id', 'client_secret']);
/** The engine's scope syntax (lib/helpers/is_valid_scope.js). */
const SCOPE_SYNTAX = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/u;

/**
 * The per-client limit of the token endpoint (src/ratelimit/token_endpoint.ts), as this path
 * applies it: `peek` before anything is minted, `count` once a token was.
 */
export interface ClientTokenLimit {
  /** The client's standing, not counted; undefined when the client is not limited here (limits off, exempt client). */
  peek(clientId: string): Promise<{ readonly allowed: boolean } | undefined>;
  /** Counts one token request of the client; the rate-limit fields its answer carries. */
  count(clientId: string): Promise<Record<string, string> | undefined>;
}

export interface ClientCredentialsFastPathDependencies {
  readonly host: ProviderHost;
  readonly resourceServers: ResourceServerStore;
  /** Set by the rate-limit feature; without it this path steps aside (the engine path counts). */
  readonly clientTokenLimit: ClientTokenLimit | undefined;
}

/** A client_credentials token request as the engine would read it, when it is one this path answers. */
interface CredentialsGrantRequest {
  readonly clientId: string;
  readonly secret: string;
  readonly scopes: readonly string[];
  readonly resource: string | undefined;
}

function grantRequestOf(ctx: KeyportContext<unknown>, text: string): CredentialsGrantRequest | undefined {
  const params = parseFastPathForm(text, PARAMETERS);
  if (params?.grant_type !== 'client_credentials') return undefined;
  if (params.scope !== undefined && !SCOPE_SYNTAX.test(params.scope)) return undefined;
  // The engine's checks of a resource indicator (lib/shared/check_resource.js): an absolute URI without a fragment.
  if (params.resource !== undefined) {
    const href = URL.parse(params.resource)?.href;
    if (!href || href.includes('#')) return undefined;
  }
  const credentials = secretCredentialsOf(ctx.request.headers.authorization, params);
  if (!credentials) return undefined;
  return { ...credentials, scopes: params.scope === undefined ? [] : [...new Set(params.scope.split(' '))], resource: params.resource };
}

/**
 * Whether the engine's client_credentials grant would mint for this client and these scopes without
 * a further branch: the grant allowed, no sender constraint required (DPoP or certificate), and
 * every requested scope in the client's list (the engine drops some others and refuses the rest).
 */
function plainGrantFor(client: EngineClient, scopes: readonly string[]): boolean {
  if (!client.grantTypeAllowed('client_credentials') || client.dpopBoundAccessTokens || client.tlsClientCertificateBoundAccessTokens) return false;
  if (!client.scope) return true;
  const allowed = new Set(client.scope.split(' '));
  return scopes.every((scope) => allowed.has(scope));
}

/**
 * `POST /oauth/token` with `grant_type=client_credentials`, answered in front of the engine for the
 * common case: a confidential client authenticating with its secret (Basic or form) asks for a
 * token, optionally with scopes and one resource indicator.
 *
 * Why: the engine's token endpoint runs some twenty middleware steps around the grant (its koa
 * stack and router, body parsing through an async iterator, parameter assembly, duplicate checks,
 * client authentication in three steps, grant checks, Keyport's engine hooks). With this path client
 * credentials went from 0.66 to 1.29–1.33 × the bare engine's rate (JWT; docs/benchmarks.md,
 * "Client credentials against the bare engine", has the A/B).
 *
 * The answer is exactly the engine's (same JSON, same headers, same token): the client is
 * authenticated by the engine's own client model (`authenticateWithSecret`: `Client.find`, the
 * registered method, secret expiry, the keyed-hash comparison); the audience is resolved by the
 * configuration's own resource-server lookup (`findResourceServerInfo`, the issuer when no
 * `resource` is given); the token is the engine's `ClientCredentials` model, saved by the engine
 * (signed as every JWT, or stored when the audience takes opaque tokens), which emits the events
 * the metrics count. The per-client limit is peeked before and counted after, as on the engine path.
 * The engine's `grant.success` event (emitted by its token action with its request context) is not:
 * Keyport's one listener concerns clients known by a metadata document, which are public and never
 * answered here.
 *
 * Everything else goes on to the engine (`next()`) with the body handed back unread: other content
 * types or parameters, repeated or empty parameters, DPoP proofs or CORS requests, other client
 * authentication, a wrong or expired secret, a client not allowed the grant or a scope, a client
 * that requires sender-constrained tokens, an unknown or refused audience, a client over its
 * limit, any failure here. So every error (and its `WWW-Authenticate`) comes from the engine.
 */
export function clientCredentialsFastPath(deps: ClientCredentialsFastPathDependencies): Middleware<unknown> {
  return async function clientCredentialsFastPath(ctx, next) {
    if (ctx.path !== ROUTES.token || ctx.method !== 'POST' || !deps.clientTokenLimit || !admissibleForm(ctx)) return next();
    let provider: Provider;
    let signingKid: string;
    try {
      // Read in the same tick: the key the current provider signs with.
      provider = deps.host.provider;
      signingKid = deps.host.keyRing.signingKid;
    } catch {
      return next();
    }

    const at: AnswerContext = { provider, signingKid, resourceServers: deps.resourceServers, limit: deps.clientTokenLimit };
    return answerInFrontOfEngine(ctx, next, 'oidc:token', (text) => answerFor(ctx, at, text));
  };
}

interface AnswerContext {
  readonly provider: Provider;
  readonly signingKid: string;
  readonly resourceServers: ResourceServerStore;
  readonly limit: ClientTokenLimit;
}

async function answerFor(ctx: KeyportContext<unknown>, at: AnswerContext, text: string): Promise<FastPathAnswer | undefined> {
  const request = grantRequestOf(ctx, text);
  if (!request) return undefined;
  // Over the limit: the engine refuses it (429, before the secret is checked).
  const standing = await at.limit.peek(request.clientId);
  if (standing && !standing.allowed) return undefined;
  const client = await authenticateWithSecret(at.provider, request.clientId, request.secret);
  if (!client || !plainGrantFor(client, request.scopes)) return undefined;

  const { provider } = at;
  const audience = request.resource ?? at.resourceServers.defaultAudience;
  let info: Awaited<ReturnType<typeof findResourceServerInfo>>;
  try {
    info = await findResourceServerInfo(at.resourceServers, at.signingKid, audience, client);
  } catch {
    // invalid_target: the engine says so.
    return undefined;
  }
  const resourceServer = new provider.ResourceServer(audience, info);
  // The engine's client_credentials grant (lib/actions/grants/client_credentials.js): the token
  // carries the requested scopes the audience allows.
  const audienceScopes = new Set(resourceServer.scope?.split(' '));
  const token = new provider.ClientCredentials({ client, scope: request.scopes.join(' ') || undefined });
  token.resourceServer = resourceServer;
  token.scope = request.scopes.filter((scope) => audienceScopes.has(scope)).join(' ') || undefined;
  const accessToken = await token.save();
  // Should counting fail, the engine answers the request anew: a stored opaque token nobody
  // received then waits for its expiry, as any token a client dropped does.
  const limitFields = await at.limit.count(request.clientId);
  // The engine's buildTokenResponse: these members in this order, undefined ones left out.
  const answer: Record<string, unknown> = { access_token: accessToken, expires_in: token.expiration };
  if (token.scope) answer.scope = token.scope;
  answer.token_type = token.tokenType;
  // The rate-limit fields come after the body's, where the engine path's count sets them.
  return { body: answer, trailingFields: limitFields };
}
