import Router from '@koa/router';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { boundToken, constantTimeEqual } from '../../lib/crypto.js';
import { InvalidRequest, KeyportError } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { errors, type Interaction, type Provider } from '../../oidc/engine/index.js';
import { PAGE_HEADERS, renderPage } from '../../oidc/views.js';
import { isClientIdUrl } from '../../oidc/client_metadata_documents.js';
import type { OidcServices } from '../../oidc/services.js';
import type { KeyportContext, KeyportRouter, Middleware, RouteStep } from '../context.js';
import { toKeyportError } from '../error_handler.js';
import { signInWithPassword, type PasswordSignInServices } from '../password_sign_in.js';
import { validateRequestBody } from '../validate.js';
import { describeScope } from '../../oidc/scope_descriptions.js';

/**
 * Login and consent pages of the authorization-code flow (`/interaction/:uid`), server-rendered
 * from views/. Plain HTML forms: usable without JavaScript. Each form carries a CSRF token bound
 * to the interaction, on top of the engine's interaction cookie (path-scoped, SameSite=Lax).
 */

/**
 * What the login and consent pages reach: the engine (once ready), the key their CSRF tokens are
 * bound to, the users (for the consent page's email), the logger; the login handler also signs in with a
 * password (`PasswordSignInServices`).
 */
export interface InteractionRouteServices {
  readonly oidc: Pick<OidcServices, 'ready' | 'csrfKey' | 'users'>;
  readonly logger: Pick<Logger, 'error' | 'warn' | 'info'>;
}

type InteractionContext = KeyportContext<InteractionRouteServices>;

declare module '../context.js' {
  interface KeyportState {
    interaction?: Interaction;
    provider?: Provider;
  }
}

class LoginForm {
  @IsString() @MaxLength(128) csrf: string;
  @IsOptional() @IsString() @MaxLength(254) email?: string;
  @IsOptional() @IsString() @MaxLength(1024) password?: string;
  @IsOptional() @IsIn(['1']) cancel?: string;
}

class ConsentForm {
  @IsString() @MaxLength(128) csrf: string;
  @IsIn(['allow', 'deny']) decision: 'allow' | 'deny';
}

function csrfToken(ctx: InteractionContext, uid: string): string {
  return boundToken(ctx.services.oidc.csrfKey, 'interaction', uid);
}

function setPage(ctx: KeyportContext<unknown>, status: number, html: string): void {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = html;
}

function metadataDocumentHost(clientId: unknown): string | undefined {
  return isClientIdUrl(clientId) ? URL.parse(clientId)?.host : undefined;
}

function interactionOf(ctx: KeyportContext<unknown>): Interaction {
  return ctx.state.interaction!;
}

async function clientNameOf(provider: Provider, clientId: unknown): Promise<string> {
  const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
  return client?.clientName ?? (typeof clientId === 'string' ? clientId : 'an application');
}

/** Anything that goes wrong on these pages is shown as a page, not as JSON. */
const renderPageErrors: Middleware<InteractionRouteServices> = async function renderPageErrors(ctx, next) {
  try {
    await next();
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      setPage(ctx, 400, await renderPage('error', {
        title: 'Sign-in request expired',
        message: 'This sign-in request is no longer valid (it expired, was already completed, or was opened in another browser). Go back to the application and start again.',
        code: 'invalid_request',
        requestId: ctx.state.requestId,
      }));
      return;
    }
    const error = toKeyportError(err);
    if (error.status >= 500) ctx.services.logger.error('interaction failed', { request_id: ctx.state.requestId, err: error.cause ?? err });
    setPage(ctx, error.status, await renderPage('error', {
      title: error.status >= 500 ? 'Something went wrong' : 'The request could not be completed',
      message: error.message,
      code: error.code,
      requestId: ctx.state.requestId,
    }));
  }
};

/** The interaction the engine's cookie points at; it must be the one in the URL. */
const loadInteraction: RouteStep<InteractionRouteServices> = async function loadInteraction(ctx, next) {
  const provider = await ctx.services.oidc.ready();
  const interaction = await provider.interactionDetails(ctx.req, ctx.res);
  if (interaction.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction mismatch');
  ctx.state.interaction = interaction;
  ctx.state.provider = provider;
  await next();
};

function requirePrompt(name: 'login' | 'consent'): Middleware<unknown> {
  return async function checkPrompt(ctx, next) {
    if (interactionOf(ctx).prompt.name !== name) throw new InvalidRequest(`This step (${name}) is not expected now; go back and start again.`);
    await next();
  };
}

function parseForm<T extends object>(dto: new () => T): Middleware<unknown> {
  return async function parseFormBody(ctx, next) {
    ctx.state.form = validateRequestBody(ctx, dto);
    await next();
  };
}

const checkCsrf: Middleware<InteractionRouteServices> = async function checkCsrf(ctx, next) {
  const { csrf } = ctx.state.form as { csrf: string };
  if (!constantTimeEqual(csrf, csrfToken(ctx, interactionOf(ctx).uid))) {
    throw new KeyportError('forbidden', 'The form expired or did not come from this site. Go back, reload the page and try again.');
  }
  await next();
};

async function renderLogin(ctx: InteractionContext, status: number, options: { error?: string; email?: string } = {}): Promise<void> {
  const interaction = interactionOf(ctx);
  const provider = ctx.state.provider!;
  const loginHint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
  setPage(ctx, status, await renderPage('login', {
    title: 'Sign in',
    uid: interaction.uid,
    csrf: csrfToken(ctx, interaction.uid),
    clientName: await clientNameOf(provider, interaction.params.client_id),
    email: options.email ?? loginHint,
    error: options.error,
  }));
}

async function renderConsent(ctx: InteractionContext): Promise<void> {
  const interaction = interactionOf(ctx);
  const provider = ctx.state.provider!;
  const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
  const resourceScopes = Object.values(details.missingResourceScopes ?? {}).flat();
  const scopes = [...new Set([...(details.missingOIDCScope ?? []), ...resourceScopes])].map(describeScope);
  const user = interaction.session ? await ctx.services.oidc.users.findById(interaction.session.accountId) : undefined;
  setPage(ctx, 200, await renderPage('consent', {
    title: 'Allow access?',
    uid: interaction.uid,
    csrf: csrfToken(ctx, interaction.uid),
    clientName: await clientNameOf(provider, interaction.params.client_id),
    // A client known by its metadata document names itself: the host of its client_id URL is
    // what tells an impostor apart (docs/oauth.md "Clients without prior registration").
    clientHost: metadataDocumentHost(interaction.params.client_id),
    email: user?.email ?? interaction.session?.accountId ?? '',
    scopes,
    audiences: Object.keys(details.missingResourceScopes ?? {}),
  }));
}

/** Hands the result to the engine and sends the browser back to the authorization endpoint. */
async function finish(ctx: KeyportContext<unknown>, result: Parameters<Provider['interactionResult']>[2], mergeWithLastSubmission: boolean): Promise<void> {
  const returnTo = await ctx.state.provider!.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission });
  ctx.set('Cache-Control', 'no-store');
  ctx.redirect(returnTo);
  ctx.status = 303;
}

const ABORTED = { error: 'access_denied', error_description: 'End-User aborted interaction' };

export function interactionRoutes<S extends InteractionRouteServices & PasswordSignInServices>(): KeyportRouter<S> {
  const router: KeyportRouter<S> = new Router({ prefix: '/interaction' });
  router.use(renderPageErrors);

  router.get('/:uid', loadInteraction, async function showPrompt(ctx: InteractionContext) {
    const { prompt } = interactionOf(ctx);
    if (prompt.name === 'login') return renderLogin(ctx, 200);
    if (prompt.name === 'consent') return renderConsent(ctx);
    throw new InvalidRequest(`Unsupported step "${prompt.name}".`);
  });

  router.post('/:uid/login', loadInteraction, requirePrompt('login'), parseForm(LoginForm), checkCsrf, async function login(ctx) {
    const form = ctx.state.form as LoginForm;
    if (form.cancel) return finish(ctx, ABORTED, false);

    const email = (form.email ?? '').trim();
    const attempt = await signInWithPassword(ctx, email, form.password);
    if (attempt.outcome === 'throttled') {
      ctx.services.logger.warn('login throttled', { request_id: ctx.state.requestId, ip: ctx.ip, retry_after: attempt.retryAfterSeconds });
      return renderLogin(ctx, 429, { email, error: attempt.message });
    }
    if (attempt.outcome === 'refused') {
      ctx.services.logger.info('login failed', { request_id: ctx.state.requestId, ip: ctx.ip, client_id: interactionOf(ctx).params.client_id });
      return renderLogin(ctx, 400, { email, error: 'Incorrect email or password.' });
    }
    return finish(ctx, { login: { accountId: attempt.user.id } }, false);
  });

  router.post('/:uid/consent', loadInteraction, requirePrompt('consent'), parseForm(ConsentForm), checkCsrf, async function consent(ctx: KeyportContext<unknown>) {
    const form = ctx.state.form as ConsentForm;
    if (form.decision === 'deny') return finish(ctx, ABORTED, false);

    const interaction = interactionOf(ctx);
    const provider = ctx.state.provider!;
    const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    const accountId = interaction.session?.accountId;
    const clientId = interaction.params.client_id as string;
    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId, clientId });
    if (!grant) throw new errors.SessionNotFound('grant not found');
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    return finish(ctx, { consent: interaction.grantId ? {} : { grantId } }, true);
  });

  return router;
}
