import type { Config } from '../config/config.js';
import { DEVICE_POLL_INTERVAL_SECONDS } from '../ratelimit/policies.js';
import { hiddenFieldsOf, isUnsavedSessionFailure, type EngineClient, type KoaContextWithOIDC, type Provider } from './engine/index.js';
import { splitScope } from './policy.js';
import { describeScope } from './scope_descriptions.js';
import { PAGE_HEADERS, renderPage } from './views.js';

/**
 * The device authorization grant (RFC 8628) as Keyport serves it: the engine's `deviceFlow`
 * feature (device authorization endpoint `/oauth/device/auth`, the `device_code` grant, the
 * verification page `/oauth/device`) with Keyport's pages. The per-address limit on code entry
 * and `slow_down` for polling are in src/ratelimit/device_flow.ts.
 *
 * User codes: eight letters from the engine's base-20 alphabet (consonants without easily confused
 * ones, BCDFGHJKLMNPQRSTVWXZ), shown as XXXX-XXXX; case, spaces and dashes do not matter when typed
 * back. 20^8 ≈ 2.6 · 10^10 codes, each living 10 minutes, against 10 tries per address per minute.
 */

/** The route the engine serves the verification page at (configuration.ts ROUTES.code_verification). */
type VerificationRoute = string;
/** The koa context the engine's pre-middleware (`provider.use`) receives. */
type EngineMiddlewareContext = Parameters<Parameters<Provider['use']>[0]>[0];

/** What each page needs from the submitted form's failure, in words a person understands. */
function entryProblem(err: unknown): { message: string; status: number } | undefined {
  if (!err) return undefined;
  switch ((err as Error).name) {
    case 'NoCodeError': return { message: 'Enter the code your device shows.', status: 400 };
    case 'NotFoundError': return { message: 'That code is not valid. Check the code on your device and try again.', status: 400 };
    case 'ExpiredError': return { message: 'That code has expired. Start again on your device to get a new one.', status: 400 };
    case 'AlreadyUsedError': return { message: 'That code was already used. Start again on your device to get a new one.', status: 400 };
    case 'AbortedError': return { message: 'You cancelled the request. Your device was not connected.', status: 200 };
    default: return { message: 'The form expired or could not be processed. Reload the page and enter the code again.', status: 400 };
  }
}

function setPageHeaders(ctx: KoaContextWithOIDC): void {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
  ctx.type = 'html';
}

function clientNameOf(client: EngineClient | undefined): string {
  return client ? (client.clientName ?? client.clientId) : 'an application';
}

/** The scopes the device asked for, as the consent page shows them. */
function requestedScopes(ctx: KoaContextWithOIDC): Array<{ name: string; description: string }> {
  const code = ctx.oidc.entities.DeviceCode as { params?: { scope?: unknown } } | undefined;
  const scope = typeof code?.params?.scope === 'string' ? code.params.scope : '';
  return splitScope(scope).map(describeScope);
}

/** `features.deviceFlow` of the engine configuration (off: the engine serves none of it and discovery says nothing of it). */
export function deviceFlowFeature(config: Pick<Config, 'deviceAndPar'>, route: VerificationRoute) {
  return {
    enabled: config.deviceAndPar.deviceFlow,
    charset: 'base-20' as const,
    mask: '****-****',
    // What the confirmation page shows of the device that asked (helps notice a code phished from someone else's device).
    deviceInfo: (ctx: KoaContextWithOIDC) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 200) || undefined }),
    async userCodeInputSource(ctx: KoaContextWithOIDC, form: string, _out?: unknown, err?: unknown) {
      const problem = entryProblem(err);
      const typed = hiddenFieldsOf(form).find((field) => field.name === 'user_code')?.value;
      setPageHeaders(ctx);
      if (problem) ctx.status = problem.status;
      ctx.body = await renderPage('device_code', {
        title: 'Connect a device',
        action: route,
        hidden: hiddenFieldsOf(form).filter((field) => field.name === 'xsrf'),
        userCode: typed ?? (err as { userCode?: string } | undefined)?.userCode ?? '',
        error: problem?.message,
      });
    },
    async userCodeConfirmSource(ctx: KoaContextWithOIDC, form: string, client: EngineClient, deviceInfo: Record<string, unknown>, userCode: string) {
      setPageHeaders(ctx);
      ctx.body = await renderPage('device_confirm', {
        title: 'Connect this device?',
        action: route,
        // xsrf and user_code; the buttons send confirm=yes or abort=yes themselves.
        hidden: hiddenFieldsOf(form).filter((field) => field.name !== 'confirm'),
        clientName: clientNameOf(client),
        userCode,
        scopes: requestedScopes(ctx),
        deviceIp: typeof deviceInfo?.ip === 'string' ? deviceInfo.ip : undefined,
        deviceAgent: typeof deviceInfo?.userAgent === 'string' ? deviceInfo.userAgent : undefined,
      });
    },
    async successSource(ctx: KoaContextWithOIDC) {
      setPageHeaders(ctx);
      ctx.body = await renderPage('device_done', { title: 'Device connected', clientName: clientNameOf(ctx.oidc.client) });
    },
  };
}

/**
 * RFC 8628 §3.2 `interval`: the engine leaves it out (clients then assume 5 s); Keyport states it,
 * as it is also what `slow_down` enforces.
 */
export function statePollingInterval(provider: Provider, deviceAuthorizationRoute: string): void {
  // Every engine request passes here: other paths go on without an async step of their own.
  provider.use(function statePollingInterval(ctx, next) {
    if (ctx.path !== deviceAuthorizationRoute) return next();
    return next().then(() => {
      if (ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return;
      const body = ctx.body as Record<string, unknown>;
      if (typeof body.device_code === 'string' && body.interval === undefined) ctx.body = { ...body, interval: DEVICE_POLL_INTERVAL_SECONDS };
    });
  });
}

/**
 * A form posted to the verification page without a live session (no cookie, an expired one, a
 * forged cross-site post), or the resume route (`/oauth/device/:uid`) with an unknown uid, is
 * refused by the engine, whose error page then fails in the engine with a 500
 * (engine/unsaved_session.ts). Answered here instead: 400, the page saying to start again.
 * Nothing was stored and no code was looked at.
 */
export function refuseFormsWithoutSession(provider: Provider, route: VerificationRoute): void {
  // Not async itself: other paths go on without an extra promise.
  provider.use(function refuseFormsWithoutSession(ctx, next) {
    if (ctx.path !== route && !ctx.path.startsWith(`${route}/`)) return next();
    return answerFormsWithoutSession(ctx, next);
  });

  async function answerFormsWithoutSession(ctx: EngineMiddlewareContext, next: () => Promise<unknown>): Promise<undefined> {
    try {
      await next();
    } catch (err) {
      if (!isUnsavedSessionFailure(err)) throw err;
      for (const header of ['set-cookie', 'retry-after']) ctx.remove(header);
      setPageHeaders(ctx as KoaContextWithOIDC);
      ctx.status = 400;
      ctx.body = await renderPage('error', {
        title: 'The form expired',
        message: 'This form expired or did not come from this site. Open the page again and enter the code your device shows.',
        code: 'invalid_request',
        requestId: (ctx.state as { requestId?: string }).requestId,
      });
    }
    return undefined;
  }
}
