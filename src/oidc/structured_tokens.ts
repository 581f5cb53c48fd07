import { looksLikeJwt, type AccessTokenService } from './access_tokens.js';
import { errors, replaceStructuredTokenStep, withEngineStructuredTokenStep, type KoaContextWithOIDC, type Provider } from './engine/index.js';

/**
 * Counts one introspection request by a caller that did not authenticate (a public client, such as
 * `keyport-api-key`) against its address; throws the engine's 429 error when it is over the limit.
 */
export type PublicIntrospectionLimit = (ctx: KoaContextWithOIDC) => Promise<void>;

/** What Keyport answers with for a provider (tests run several instances in one process). */
interface Answerer {
  readonly accessTokens: AccessTokenService;
  readonly publicLimit: () => PublicIntrospectionLimit | undefined;
}

const answerers = new WeakMap<object, Answerer>();
/** Requests whose public caller was counted already (by the step; the answer wrapper counts the others). */
const counted = new WeakSet<object>();

/** Whether the caller is a public client: it authenticated with nothing but its `client_id`. */
function isPublicCaller(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc?.entities?.Client?.clientAuthMethod === 'none';
}

/** Counts a public caller once per request (no-op for authenticated callers). */
async function limitPublicCaller(ctx: KoaContextWithOIDC, answerer: Answerer): Promise<void> {
  const limit = answerer.publicLimit();
  if (!limit || counted.has(ctx) || !isPublicCaller(ctx)) return;
  counted.add(ctx);
  await limit(ctx);
}

/**
 * The fast path for JWT introspection. The engine answers a JWT at its introspection endpoint by
 * throwing UnsupportedTokenType from its `rejectStructuredTokens` step, after client
 * authentication; Keyport then answers from the error event (below). Profiles of JWT
 * introspection showed that throw (two stack captures through the whole async middleware chain)
 * and the error rendering Keyport overwrites as ~10 % of each request. So the engine's step is
 * replaced by one that answers JWTs directly and hands everything else to the original step:
 * same place in the chain (after client authentication, duplicate and presence checks), same
 * answer. Providers read the step array when constructed, so this runs before the first one is.
 *
 * The same place is where a caller that did not authenticate is counted against its address
 * (before any token is looked up), for every kind of token.
 *
 * When a future engine no longer has that step, nothing is replaced and the error-based path
 * below keeps answering: slower, never different (it then counts public callers after the fact).
 * Returns whether the step is in place.
 */
export function installJwtIntrospectionStep(): boolean {
  return replaceStructuredTokenStep('introspectJwtOrContinue', async (ctx, next, engineStep) => {
    const answerer = answerers.get(ctx.oidc.provider);
    if (answerer) await limitPublicCaller(ctx, answerer);
    const token = ctx.oidc.params?.token;
    if (!answerer || typeof token !== 'string' || !looksLikeJwt(token)) return engineStep(ctx, next);
    await introspectJwt(ctx, answerer.accessTokens, token);
  });
}

/**
 * Puts the engine's own step back while `build` runs, so that providers it constructs take the
 * error-event path: how the tests prove that path keeps Keyport's rules (an engine without the
 * step would leave every provider on it).
 */
export async function withEngineIntrospectionStep<T>(build: () => Promise<T>): Promise<T> {
  installJwtIntrospectionStep();
  return withEngineStructuredTokenStep(build);
}

/**
 * Introspection (RFC 7662) and revocation (RFC 7009) of JWT access tokens, which the engine
 * refuses (shared/reject_structured_tokens.js), plus Keyport's extra activity checks on the
 * engine's answers for opaque tokens.
 *
 * The engine's own endpoint runs first, so the caller is authenticated exactly as for any other
 * token (client_secret_basic/post, private_key_jwt, none) and every malformed request gets the
 * engine's RFC 6749 error. Only when the engine stopped at "structured token" (after client
 * authentication succeeded) does Keyport answer in its place.
 */
export function installStructuredTokenSupport(provider: Provider, accessTokens: AccessTokenService, publicLimit: () => PublicIntrospectionLimit | undefined = () => undefined): void {
  const answerer: Answerer = { accessTokens, publicLimit };
  answerers.set(provider, answerer);
  const refused = new WeakSet<object>();
  const markRefused = (ctx: KoaContextWithOIDC, err: Error): void => {
    if (err instanceof errors.UnsupportedTokenType) refused.add(ctx);
  };
  provider.on('introspection.error', markRefused);
  provider.on('revocation.error', markRefused);

  provider.use(async function answerForStructuredTokens(ctx, next) {
    await next();
    const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    const route = oidc?.route;
    if (route !== 'introspection' && route !== 'revocation') return;
    const client = oidc!.entities.Client;
    const token = oidc!.params?.token;

    if (refused.has(ctx)) {
      // The engine decoded a JWS header: Keyport answers, whatever the rest of the token is
      // (revocation; introspection of what the fast path above leaves to the engine).
      if (!client || typeof token !== 'string') return;
      ctx.remove('WWW-Authenticate');
      if (route === 'introspection') {
        await introspectJwt(ctx as KoaContextWithOIDC, accessTokens, token);
      } else {
        await revokeJwt(ctx as KoaContextWithOIDC, accessTokens, token);
      }
    } else if (route === 'introspection' && ctx.status === 200 && (ctx.body as { active?: boolean } | undefined)?.active === true) {
      // The engine found an active opaque token: apply the checks it does not know about.
      const model = oidc!.entities.AccessToken ?? oidc!.entities.ClientCredentials;
      if (model && !(await accessTokens.isActive(accessTokens.fromModel(model)))) ctx.body = { active: false };
    }
    if (route === 'introspection') await restrictForPublicCaller(ctx as KoaContextWithOIDC, answerer);
  });
}

/**
 * A caller that did not authenticate learns only whether the token is active and until when
 * (`active`, `exp`): enough to decide whether to use or refresh it, nothing of whose it is or
 * what it may do. Applied to every answer of the endpoint, whichever path produced it (the
 * replaced step for JWTs, the engine for opaque and refresh tokens, the error-event fallback).
 * A public caller not counted yet (the fallback path) is counted here; over the limit the
 * answer is withheld and the engine's 429 rendered instead.
 */
async function restrictForPublicCaller(ctx: KoaContextWithOIDC, answerer: Answerer): Promise<void> {
  if (!isPublicCaller(ctx) || ctx.status !== 200) return;
  try {
    await limitPublicCaller(ctx, answerer);
  } catch (err) {
    if (!(err instanceof errors.OIDCProviderError)) throw err;
    ctx.status = err.status;
    ctx.type = 'application/json';
    ctx.body = { error: err.error, error_description: err.error_description };
    return;
  }
  const body = ctx.body as { active?: unknown; exp?: unknown } | undefined;
  ctx.body = body?.active === true ? { active: true, exp: body.exp } : { active: false };
}

async function introspectJwt(ctx: KoaContextWithOIDC, accessTokens: AccessTokenService, token: string): Promise<void> {
  const caller = ctx.oidc.entities.Client!;
  const verified = await accessTokens.verify(token);
  ctx.status = 200;
  ctx.type = 'application/json';
  // Same policy as the engine's for opaque tokens (configuration.ts): public clients only see their own.
  if (!verified || (caller.clientAuthMethod === 'none' && verified.clientId !== caller.clientId)) {
    ctx.body = { active: false };
    return;
  }
  ctx.body = accessTokens.introspection(verified);
}

async function revokeJwt(ctx: KoaContextWithOIDC, accessTokens: AccessTokenService, token: string): Promise<void> {
  const caller = ctx.oidc.entities.Client!;
  const verified = await accessTokens.verifyJwt(token);
  // RFC 7009 §2.2: an invalid or expired token is answered like a revoked one.
  if (verified && verified.clientId !== caller.clientId && caller.clientAuthMethod !== 'none') {
    ctx.status = 400;
    ctx.type = 'application/json';
    ctx.body = { error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' };
    return;
  }
  if (verified && verified.clientId === caller.clientId) await accessTokens.revoke(verified);
  ctx.status = 200;
  ctx.body = '';
}
