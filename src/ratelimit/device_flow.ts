import { DEVICE_CODE_GRANT } from '../clients/grant_types.js';
import { ROUTES } from '../oidc/configuration.js';
import type { Provider } from '../oidc/engine/index.js';
import type { TokenIds } from '../oidc/token_ids.js';
import { PAGE_HEADERS, renderPage } from '../oidc/views.js';
import type { RateLimitDependencies } from './dependencies.js';
import { rateLimitHeaders } from './headers.js';

/**
 * The device authorization grant's limits (RFC 8628 §5.1, §3.5), for the engine's routes:
 *
 * - code entry: every submission of the verification page (`POST /oauth/device`: a code, a
 *   confirmation, a cancel) counts against the caller's address (`RATE_LIMIT_USER_CODE_PER_IP` per
 *   minute, shared through Redis); over it the page answers 429 before the engine looks any code
 *   up, so guessing user codes is bounded and stores nothing.
 * - polling: a device polling its pending code more often than once per interval (5 s) gets
 *   `slow_down` instead of `authorization_pending` (counted per keyed hash of the device code).
 */
export function limitDeviceFlow(provider: Provider, services: RateLimitDependencies & { readonly oidc: { readonly tokenIds: TokenIds } }): void {
  // Both steps are plain functions that hand every other request on at once: each engine request
  // passes through them, and an async step costs promises even when it has nothing to do.
  provider.use(function limitUserCodeEntry(ctx, next) {
    if (ctx.method !== 'POST' || ctx.path !== ROUTES.code_verification) return next();
    return limitCodeEntry(ctx, next);
  });

  async function limitCodeEntry(ctx: EngineMiddlewareContext, next: () => Promise<unknown>): Promise<unknown> {
    const decision = await services.rateLimits.consumeUserCodeEntry(ctx.ip);
    ctx.set(rateLimitHeaders(decision));
    if (decision.allowed) return next();
    services.metrics.rateLimitRejections.inc({ limiter: decision.limiter });
    for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
    ctx.set('Retry-After', String(decision.retryAfterSeconds));
    ctx.status = 429;
    ctx.type = 'html';
    ctx.body = await renderPage('error', {
      title: 'Too many attempts',
      message: `Too many codes were entered from your network. Wait ${decision.retryAfterSeconds} seconds, then enter the code again.`,
      code: 'rate_limit_exceeded',
      requestId: (ctx.state as { requestId?: string }).requestId,
    });
    return undefined;
  }

  provider.use(function slowDownFastPolling(ctx, next) {
    // Polling is a POST to the token endpoint; the grant type is known only once the engine read the body.
    if (ctx.method !== 'POST' || ctx.path !== ROUTES.token) return next();
    return next().then(() => answerFastPolling(ctx));
  });

  async function answerFastPolling(ctx: EngineMiddlewareContext): Promise<void> {
    const { oidc } = ctx as { oidc?: { route?: string; params?: Record<string, unknown> } };
    if (oidc?.route !== 'token' || ctx.status !== 400 || oidc.params?.grant_type !== DEVICE_CODE_GRANT) return;
    const body = ctx.body as { error?: unknown } | undefined;
    const deviceCode = oidc.params.device_code;
    if (body?.error !== 'authorization_pending' || typeof deviceCode !== 'string') return;
    const decision = await services.rateLimits.consumeDevicePoll(services.oidc.tokenIds.hash(deviceCode));
    if (decision.allowed) return;
    services.metrics.rateLimitRejections.inc({ limiter: decision.limiter });
    ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly; poll at most every 5 seconds and add 5 seconds to your interval' };
  }
}

/** The koa context the engine's pre-middleware (`provider.use`) receives. */
type EngineMiddlewareContext = Parameters<Parameters<Provider['use']>[0]>[0];
