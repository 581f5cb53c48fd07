import * as querystring from 'node:querystring';
import type { KeyportContext, Middleware } from '../http/context.js';
import { looksLikeJwt, type AccessTokenService } from './access_tokens.js';
import { ROUTES } from './configuration.js';
import { authenticateWithSecret, engineIntrospectionAnswer, ReplayableBody, type Provider } from './engine/index.js';
import type { ProviderHost } from './provider_host.js';

/** Bodies up to this size are read ahead; larger ones go straight to the engine (a JWT is at most 8 KiB). */
export const FAST_PATH_MAX_BODY_BYTES = 12 * 1024;

/** Exactly the form content type, optionally with charset utf-8 (the engine decodes both as UTF-8). */
const FORM_CONTENT_TYPE = /^application\/x-www-form-urlencoded\s*(?:;\s*charset\s*=\s*(?:utf-8|"utf-8")\s*)?$/i;
/** Headers that make the engine's client authentication or CORS handling take another branch. */
const DECLINED_HEADERS = ['origin', 'transfer-encoding', 'oauth-client-attestation', 'oauth-client-attestation-pop', 'dpop'] as const;
/** Body parameters handled here; anything else (client assertions, unknown names) goes to the engine. */
const PARAMETERS: ReadonlySet<string> = new Set(['token', 'token_type_hint', 'client_id', 'client_secret']);
/** Hints under which the engine looks the token up as an access token first, as without a hint. */
const ACCESS_TOKEN_HINTS: ReadonlySet<string> = new Set(['access_token', 'urn:ietf:params:oauth:token-type:access_token']);
/**
 * Client ids and secrets the engine's `decodeAuthToken` leaves as they are: printable ASCII without
 * space, `%` and `+` (which it would URL-decode). Keyport's ids and secrets are all of this kind.
 */
const PLAIN_CREDENTIAL = /^[\x21-\x24\x26-\x2a\x2c-\x7e]{1,512}$/;
const BASIC_SCHEME = /^basic$/i;

/** The engine's check of the Basic credentials' base64 (lib/shared/client_auth.js isValidBase64). */
function isValidBase64(input: string): boolean {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(input);
  if (!match?.[1]) return false;
  const remainder = match[1].length % 4;
  if (!match[2]) return remainder !== 1;
  return (match[1].length + match[2].length) % 4 === 0 && match[2].length === 4 - remainder;
}

interface Credentials {
  readonly clientId: string;
  readonly secret: string;
}

/** Whether the request line and headers are ones this path understands (decided before the body is read). */
function admissible(ctx: KeyportContext<unknown>): boolean {
  if (ctx.querystring !== '') return false;
  const { headers } = ctx.request;
  if (!FORM_CONTENT_TYPE.test(headers['content-type'] ?? '')) return false;
  for (const name of DECLINED_HEADERS) if (headers[name] !== undefined) return false;
  const length = Number(headers['content-length']);
  return Number.isInteger(length) && length > 0 && length <= FAST_PATH_MAX_BODY_BYTES;
}

/**
 * `querystring.parse` for the plain case: a form without `%` or `+` (nothing to decode) whose every
 * pair is `name=value` with both non-empty. What it returns then is what querystring.parse returns
 * (repeated names aside, which the caller refuses anyway): undefined means "not plain, parse it
 * properly". Profiles of introspection put querystring.parse at ~10–13 µs per request for a body
 * of one JWT; the split below is a few.
 */
function parsePlainForm(text: string): Record<string, string> | undefined {
  if (text.includes('%') || text.includes('+')) return undefined;
  const params: Record<string, string> = {};
  for (const pair of text.split('&')) {
    const equals = pair.indexOf('=');
    if (equals <= 0 || equals === pair.length - 1) return undefined;
    const name = pair.slice(0, equals);
    // Only names the caller accepts, once each (querystring would make a repeat an array, refused too).
    if (!PARAMETERS.has(name) || params[name] !== undefined) return undefined;
    params[name] = pair.slice(equals + 1);
  }
  return params;
}

/** The form's parameters when every one is known, single and non-empty, and a token is present. */
function parseParameters(text: string): Record<string, string> | undefined {
  const parsed = parsePlainForm(text) ?? querystring.parse(text);
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    // Arrays are repeated parameters (the engine refuses them); empty values it treats as absent.
    if (!PARAMETERS.has(name) || typeof value !== 'string' || value.length === 0) return undefined;
    params[name] = value;
  }
  if (params.token === undefined) return undefined;
  if (params.token_type_hint !== undefined && !ACCESS_TOKEN_HINTS.has(params.token_type_hint)) return undefined;
  return params;
}

/** client_secret_basic or client_secret_post credentials, read as the engine reads them. */
function credentialsOf(authorization: string | undefined, params: Record<string, string>): Credentials | undefined {
  if (authorization === undefined) {
    const { client_id: clientId, client_secret: secret } = params;
    if (clientId === undefined || secret === undefined || !PLAIN_CREDENTIAL.test(clientId) || !PLAIN_CREDENTIAL.test(secret)) return undefined;
    return { clientId, secret };
  }
  // One mechanism only (the engine refuses a header plus a body secret).
  if (params.client_secret !== undefined) return undefined;
  const parts = authorization.split(' ');
  if (parts.length !== 2 || !BASIC_SCHEME.test(parts[0]!) || !isValidBase64(parts[1]!)) return undefined;
  const basic = Buffer.from(parts[1]!, 'base64').toString('utf8');
  const colon = basic.indexOf(':');
  if (colon === -1) return undefined;
  const clientId = basic.slice(0, colon);
  const secret = basic.slice(colon + 1);
  if (!PLAIN_CREDENTIAL.test(clientId) || !PLAIN_CREDENTIAL.test(secret)) return undefined;
  if (params.client_id !== undefined && params.client_id !== clientId) return undefined;
  return { clientId, secret };
}

/** The opaque token's answer when it is active and plain (see engineIntrospectionAnswer); undefined otherwise. */
async function answerOpaque(provider: Provider, accessTokens: AccessTokenService, tokenValue: string): Promise<Record<string, unknown> | undefined> {
  const token = await accessTokens.findOpaqueModel(tokenValue);
  // DPoP-bound tokens are answered here (cnf.jkt); certificate-bound ones (never issued by Keyport) go to the engine.
  if (!token || (token as { rar?: unknown }).rar !== undefined || (token as { 'x5t#S256'?: unknown })['x5t#S256'] !== undefined) return undefined;
  if (!token.isValid) return undefined;
  // Pairwise subjects (never configured by Keyport) would need the engine's pairwiseIdentifier.
  if ('accountId' in token && token.accountId) {
    const owner = await provider.Client.find(token.clientId!);
    if (!owner || owner.subjectType === 'pairwise') return undefined;
  }
  if (!(await accessTokens.isActive(accessTokens.fromModel(token)))) return undefined;
  return engineIntrospectionAnswer(provider, token, tokenValue);
}

export interface IntrospectionFastPathDependencies {
  readonly host: ProviderHost;
  readonly accessTokens: AccessTokenService;
}

/**
 * `POST /oauth/introspect`, answered in front of the engine for the common case: a resource
 * server authenticating with its client secret (Basic or form) asks about an active access token.
 *
 * Why: the engine's endpoint runs some twenty middleware steps before and around the answer
 * (its koa stack and router, body parsing through an async iterator, parameter assembly,
 * duplicate checks, client authentication in three steps, Keyport's own engine hooks). Profiles of
 * introspection put that chain at about a fifth of the server's CPU, and the bare engine
 * (in-memory, no Keyport checks) tops out below the 6,000 req/s target on the bench machine.
 * Measured again when introspection was cut down to one path (2026-12-03, SQLite, bench 6a/6b/6c,
 * two alternating passes on the shared 2-core host): without this path every introspection
 * scenario took 40–50 % more CPU per request (JWT 218 → 308 µs, opaque 268 → 384 µs, API-key
 * JWT 250 → 373 µs, averages of the two passes).
 *
 * One path: this step and Keyport's step inside the engine (structured_tokens.ts, in place of the
 * engine's `rejectStructuredTokens`) are the two halves of it, not alternatives. This half takes
 * what it can answer without the engine's client authentication; the other answers every JWT the
 * engine gets, after authenticating the caller by any method.
 *
 * The answer is exactly the engine's (same JSON, same headers): the caller is authenticated by the
 * engine's own client model (`Client.find`, `compareClientSecret` on the keyed hash, the
 * registered method), JWTs are answered by AccessTokenService as the engine path does
 * (structured_tokens.ts), opaque tokens as the engine's introspection builds its answer, after the
 * same model lookups and Keyport's activity checks. Everything else goes on to the engine
 * (`next()`) with the body handed back unread: other content types or parameters, repeated or
 * empty parameters, other client authentication, a wrong secret, an unknown, inactive or refresh
 * token, CORS requests, any failure here. So every error, `WWW-Authenticate` and `active: false`
 * comes from the engine exactly as before.
 *
 * Confidential callers only: they may introspect any token (configuration.ts allowedPolicy). A
 * public client (`client_id` alone, e.g. `keyport-api-key`) is never answered here: the engine path
 * counts it per address and answers it only `active` and `exp` (structured_tokens.ts).
 * The per-client limit of the token endpoint does not apply to introspection (it counts only the
 * `token` route, src/ratelimit/token_endpoint.ts), here as on the engine path.
 */
export function introspectionFastPath(deps: IntrospectionFastPathDependencies): Middleware<unknown> {
  const { host, accessTokens } = deps;
  return async function introspectionFastPath(ctx, next) {
    if (ctx.path !== ROUTES.introspection || ctx.method !== 'POST' || !admissible(ctx)) return next();
    let provider: Provider;
    try {
      provider = host.provider;
    } catch {
      return next();
    }

    const body = await ReplayableBody.read(ctx.req);
    let answer: Record<string, unknown> | undefined;
    try {
      answer = await answerFor(ctx, provider, accessTokens, body);
    } catch {
      // A database failure, anything unexpected: the engine answers (503 during an outage).
      answer = undefined;
    }
    if (!answer) {
      body.replay();
      return next();
    }
    ctx.state.routeName = 'oidc:introspection';
    ctx.status = 200;
    // As the engine's noCache step sets it (same name, same place among the headers).
    ctx.set('cache-control', 'no-store');
    ctx.body = answer;
    return undefined;
  };
}

async function answerFor(ctx: KeyportContext<unknown>, provider: Provider, accessTokens: AccessTokenService, body: ReplayableBody): Promise<Record<string, unknown> | undefined> {
  const text = body.text();
  if (text === undefined) return undefined;
  const params = parseParameters(text);
  if (!params) return undefined;
  const credentials = credentialsOf(ctx.request.headers.authorization, params);
  if (!credentials) return undefined;
  const caller = await authenticateWithSecret(provider, credentials.clientId, credentials.secret);
  if (!caller) return undefined;

  const token = params.token!;
  if (looksLikeJwt(token)) {
    const verified = await accessTokens.verify(token);
    return verified ? accessTokens.introspection(verified) : undefined;
  }
  return answerOpaque(provider, accessTokens, token);
}
