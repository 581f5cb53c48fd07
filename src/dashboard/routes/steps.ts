import type { DashboardSession } from '../../db/entities/dashboard_session.js';
import type { User } from '../../db/entities/user.js';
import type { KeyportContext, Middleware } from '../../http/context.js';
import { toKeyportError } from '../../http/error_handler.js';
import { validateRequestBody } from '../../http/validate.js';
import type { ActionContext } from '../../keys/index.js';
import { Forbidden } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { OidcServices } from '../../oidc/services.js';
import { CsrfTokens } from '../csrf.js';
import type { DashboardServices } from '../index.js';
import { newNonce, renderDashboardPage } from '../views.js';

/**
 * What the steps every dashboard page runs reach: the sign-in sessions and CSRF tokens, the users
 * behind sessions, the logger for pages that failed. The other steps and helpers reach no service.
 */
export interface DashboardStepServices {
  readonly dashboard: Pick<DashboardServices, 'sessions' | 'csrf'>;
  readonly oidc: Pick<OidcServices, 'users'>;
  readonly logger: Pick<Logger, 'error'>;
}

/** What the dashboard's steps leave on `ctx.state.dashboard`. */
export interface DashboardRequestState {
  /** CSP nonce of this response. */
  nonce: string;
  session?: DashboardSession;
  user?: User;
  /** The CSRF token every form of this session carries. */
  csrf?: string;
  /** The parsed, shape-checked form body. */
  form?: unknown;
}

declare module '../../http/context.js' {
  interface KeyportState {
    dashboard?: DashboardRequestState;
  }
}

export const SESSION_COOKIE = 'keyport_dashboard';
/** Holds the nonce the sign-in form's CSRF token is bound to. */
export const SIGN_IN_COOKIE = 'keyport_dashboard_signin';
export const COOKIE_PATH = '/dashboard';
const SIGN_IN_COOKIE_MAX_AGE_MS = 60 * 60_000;

export function dashboardState(ctx: KeyportContext<unknown>): DashboardRequestState {
  return ctx.state.dashboard!;
}

/** The signed-in admin, for handlers behind `requireAdmin`. */
export function currentUser(ctx: KeyportContext<unknown>): User {
  return dashboardState(ctx).user!;
}

export function formOf<T>(ctx: KeyportContext<unknown>): T {
  return dashboardState(ctx).form as T;
}

/** Who acts, for the services' audit trail: the signed-in user, from the caller's address. */
export function actorOf(ctx: KeyportContext<unknown>): ActionContext {
  return { actor: `user:${currentUser(ctx).id}`, ip: ctx.ip };
}

/** HttpOnly, SameSite=Lax, Secure when the request came over HTTPS (directly or, with TRUST_PROXY, via the proxy). */
export function cookieOptions(ctx: KeyportContext<unknown>, maxAge?: number): { path: string; httpOnly: true; secure: boolean; sameSite: 'lax'; overwrite: true; signed: false; maxAge?: number } {
  return { path: COOKIE_PATH, httpOnly: true, secure: ctx.secure, sameSite: 'lax', overwrite: true, signed: false, ...(maxAge === undefined ? {} : { maxAge }) };
}

export function setSignInNonceCookie(ctx: KeyportContext<unknown>, nonce: string): void {
  ctx.cookies.set(SIGN_IN_COOKIE, nonce, cookieOptions(ctx, SIGN_IN_COOKIE_MAX_AGE_MS));
}

export function clearCookie(ctx: KeyportContext<unknown>, name: string): void {
  ctx.cookies.set(name, '', { ...cookieOptions(ctx), maxAge: 0, expires: new Date(0) });
}

/** 303 to a page of ours (after a POST, the browser GETs it). */
export function seeOther(ctx: KeyportContext<unknown>, location: string): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.redirect(location);
  ctx.status = 303;
}

/** Only paths inside the dashboard are followed after sign-in (no open redirect). */
export function safeNext(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 500) return undefined;
  return /^\/dashboard(?:[/?][A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*)?$/.test(value) && !value.includes('//') ? value : undefined;
}

/** First step of every dashboard route: a nonce for this response's CSP. */
export const startPage: Middleware<unknown> = async function startPage(ctx, next) {
  ctx.state.dashboard = { nonce: newNonce() };
  await next();
};

function errorTitle(status: number): string {
  if (status === 403) return 'Not allowed';
  if (status === 404) return 'Not found';
  if (status === 409) return 'Not possible right now';
  if (status === 429) return 'Too many requests';
  if (status >= 500) return 'Something went wrong';
  return 'The request could not be completed';
}

/** Anything that goes wrong on a dashboard page is answered as a page (same status and code), never as JSON. */
export const renderPageErrors: Middleware<DashboardStepServices> = async function renderPageErrors(ctx, next) {
  try {
    await next();
  } catch (err) {
    const error = toKeyportError(err);
    if (error.status >= 500) ctx.services.logger.error('dashboard page failed', { request_id: ctx.state.requestId, err: error.cause ?? err });
    for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
    await renderDashboardPage(ctx, error.status, 'error', {
      title: errorTitle(error.status),
      message: error.message,
      code: error.code,
    });
  }
};

/** Reads the session cookie; a dead session's cookie is cleared. Never refuses by itself. */
export const loadSession: Middleware<DashboardStepServices> = async function loadSession(ctx, next) {
  const state = dashboardState(ctx);
  const token = ctx.cookies.get(SESSION_COOKIE, { signed: false });
  if (token) {
    const { sessions, csrf } = ctx.services.dashboard;
    const session = await sessions.resolve(token);
    const user = session ? await ctx.services.oidc.users.findById(session.userId) : undefined;
    if (session && user) {
      state.session = session;
      state.user = user;
      state.csrf = csrf.forSession(token);
    } else {
      if (session) await sessions.close(session.id);
      clearCookie(ctx, SESSION_COOKIE);
    }
  }
  await next();
};

/** Signed in (any user), or off to the sign-in page, which brings them back here afterwards. */
export const requireSession: Middleware<unknown> = async function requireSession(ctx, next) {
  if (dashboardState(ctx).session) return next();
  const back = ctx.method === 'GET' ? safeNext(ctx.originalUrl) : undefined;
  return seeOther(ctx, back && back !== '/dashboard/login' ? `/dashboard/login?next=${encodeURIComponent(back)}` : '/dashboard/login');
};

/** Only users with the admin flag reach the dashboard. Checked on every request: the flag may be taken away. */
export const requireAdmin: Middleware<unknown> = async function requireAdmin(ctx, next) {
  return requireSession(ctx, async () => {
    if (!currentUser(ctx).isAdmin) {
      throw new Forbidden(`The dashboard is for Keyport administrators only, and ${currentUser(ctx).email} is not one. Ask an administrator for access, or sign out and sign in with an administrator account.`);
    }
    await next();
  });
};

export const CSRF_REFUSAL = 'This form has expired or did not come from the Keyport dashboard (its security token is missing or wrong), so nothing was changed. Go back, reload the page and try again.';

/** Every state-changing request carries the session's CSRF token (synchronizer token). Checked before anything else reads the form. */
export const checkCsrf: Middleware<unknown> = async function checkCsrf(ctx, next) {
  const body = (ctx.request as { body?: unknown }).body;
  const presented = body && typeof body === 'object' ? (body as Record<string, unknown>).csrf : undefined;
  const expected = dashboardState(ctx).csrf;
  if (!expected || !CsrfTokens.matches(presented, expected)) throw new Forbidden(CSRF_REFUSAL);
  await next();
};

/** Shape-checks the form body (unknown fields, wrong types: a 400 page). */
export function parseForm<T extends object>(dto: new () => T): Middleware<unknown> {
  return async function parseFormBody(ctx, next) {
    dashboardState(ctx).form = validateRequestBody(ctx, dto);
    await next();
  };
}

/** A route parameter as a string ('' when absent); the services judge whether it names anything. */
export function param(ctx: KeyportContext<unknown>, name: string): string {
  const value = (ctx as unknown as { params: Record<string, string | undefined> }).params[name];
  return typeof value === 'string' ? value : '';
}
