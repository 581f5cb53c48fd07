import { looksLikeJwt, type AccessTokenService } from './access_tokens.js';
import { ROUTES } from './configuration.js';
import { errors, replaceStructuredTokenStep, type KoaContextWithOIDC, type Provider } from './engine/index.js';

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

/** Whether the caller is a public client: it authenticated with nothing but its `client_id`. */
function isPublicCaller(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc?.entities?.Client?.clientAuthMethod === 'none';
}

/**
 * Keyport's introspection step inside the engine: the answer for every request the fast path in
 * front of the engine (introspection_fast_path.ts) leaves to it once the engine has authenticated
 * the caller (any method: secret, private_key_jwt, none) and checked the parameters.
 *
 * It takes the place of the engine's `rejectStructuredTokens` step (same position in the chain),
 * which would refuse every JWT with UnsupportedTokenType. Here:
 *
 * - a caller that did not authenticate is counted against its address first, before any token
 *   is looked up, whatever the token (over the limit: the engine renders the 429);
 * - a JWT is answered by AccessTokenService (signature, expiry, revocation registry, activity
 *   checks), as the fast path answers it;
 * - any other token goes to the engine's own step, which hands it on to the engine's lookup of
 *   opaque and refresh tokens. When that step still calls the token structured (a JWS shape that
 *   is not Keyport's: a JWE, an empty signature, longer than 8 KiB) it is answered here too,
 *   never refused: Keyport issued no such token, so it is `active: false`.
 *
 * Providers read the step array when constructed, so this runs before the first one is built
 * (services.ts). Throws when the engine has no such step: without it the engine would refuse
 * every JWT (test/oidc/engine/contract.test.ts names the seam to update).
 */
export function installJwtIntrospectionStep(): void {
  const installed = replaceStructuredTokenStep('introspectJwtOrContinue', async (ctx, next, engineStep) => {
    const answerer = answerers.get(ctx.oidc.provider);
    if (!answerer) return engineStep(ctx, next);
    const limit = answerer.publicLimit();
    if (limit && isPublicCaller(ctx)) await limit(ctx);
    const token = ctx.oidc.params?.token;
    if (typeof token !== 'string') return engineStep(ctx, next);
    if (looksLikeJwt(token)) return introspectJwt(ctx, answerer.accessTokens, token);
    let handedOn = false;
    try {
      await engineStep(ctx, () => {
        handedOn = true;
        return next();
      });
    } catch (err) {
      if (handedOn || !(err instanceof errors.UnsupportedTokenType)) throw err;
      await introspectJwt(ctx, answerer.accessTokens, token);
    }
  });
  if (!installed) {
    throw new Error('oidc-provider has no rejectStructuredTokens introspection step: src/oidc/engine/introspection_step.ts must be updated');
  }
}

/**
 * Revocation (RFC 7009) of JWT access tokens, which the engine refuses
 * (shared/reject_structured_tokens.js), plus what Keyport adds to the engine's introspection
 * answers: its activity checks on opaque tokens, and the narrow answer to a public caller.
 *
 * The engine's own endpoint runs first, so the caller is authenticated exactly as for any other
 * token (client_secret_basic/post, private_key_jwt, none) and every malformed request gets the
 * engine's RFC 6749 error. Revocation: only when the engine stopped at "structured token" (after
 * client authentication succeeded) does Keyport answer in its place.
 */
export function installStructuredTokenSupport(provider: Provider, accessTokens: AccessTokenService, publicLimit: () => PublicIntrospectionLimit | undefined = () => undefined): void {
  answerers.set(provider, { accessTokens, publicLimit });
  const refused = new WeakSet<object>();
  provider.on('revocation.error', (ctx: KoaContextWithOIDC, err: Error) => {
    if (err instanceof errors.UnsupportedTokenType) refused.add(ctx);
  });

  // Only introspection and revocation have anything to add: every other request goes on at once,
  // without an async step of its own (each engine request passes here).
  provider.use(function answerForStructuredTokens(ctx, next) {
    if (ctx.path !== ROUTES.introspection && ctx.path !== ROUTES.revocation) return next();
    return next().then(() => completeAnswer(ctx));
  });

  async function completeAnswer(ctx: Parameters<Parameters<Provider['use']>[0]>[0]): Promise<void> {
    const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    const route = oidc?.route;
    if (route === 'revocation' && refused.has(ctx)) {
      // The engine decoded a JWS header: Keyport answers, whatever the rest of the token is.
      const token = oidc!.params?.token;
      if (!oidc!.entities.Client || typeof token !== 'string') return;
      ctx.remove('WWW-Authenticate');
      await revokeJwt(ctx as KoaContextWithOIDC, accessTokens, token);
      return;
    }
    if (route !== 'introspection' || ctx.status !== 200) return;
    if ((ctx.body as { active?: boolean } | undefined)?.active === true) {
      // The engine found an active opaque token: apply the checks it does not know about.
      const model = oidc!.entities.AccessToken ?? oidc!.entities.ClientCredentials;
      if (model && !(await accessTokens.isActive(accessTokens.fromModel(model)))) ctx.body = { active: false };
    }
    if (isPublicCaller(ctx as KoaContextWithOIDC)) restrictForPublicCaller(ctx as KoaContextWithOIDC);
  }
}

/**
 * A caller that did not authenticate learns only whether the token is active and until when
 * (`active`, `exp`): enough to decide whether to use or refresh it, nothing of whose it is or
 * what it may do. Applied to every 200 answer of the engine's endpoint (JWTs answered by the
 * step above, opaque and refresh tokens by the engine); the fast path never answers such a caller.
 */
function restrictForPublicCaller(ctx: KoaContextWithOIDC): void {
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
