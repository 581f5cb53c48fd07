import type { AuditLog } from '../../audit/audit_log.js';
import type { KeyportContext, KeyportRouter, Middleware } from '../../http/context.js';
import { signInWithPassword, type PasswordSignInServices } from '../../http/password_sign_in.js';
import { Forbidden } from '../../lib/errors.js';
import { CsrfTokens } from '../csrf.js';
import { CsrfOnlyForm, SignInForm } from '../forms.js';
import type { DashboardServices } from '../index.js';
import { renderDashboardPage } from '../views.js';
import {
  checkCsrf, clearCookie, cookieOptions, dashboardState, formOf, parseForm, requireSession, safeNext, seeOther,
  SESSION_COOKIE, setSignInNonceCookie, SIGN_IN_COOKIE, CSRF_REFUSAL,
} from './steps.js';

/**
 * What signing in and out reaches: the sign-in CSRF tokens, the dashboard sessions, the one-time
 * reveals (dropped at sign-out), the audit trail.
 */
export interface DashboardSignInRouteServices {
  readonly dashboard: Pick<DashboardServices, 'csrf' | 'sessions' | 'reveals'>;
  readonly audit: Pick<AuditLog, 'record'>;
}

type SignInContext = KeyportContext<DashboardSignInRouteServices>;

const NONCE_SHAPE = /^[A-Za-z0-9_-]{32}$/;

/** Fixed texts selected by a query flag: nothing from the URL is ever echoed into the page. */
const NOTICES: Record<string, string> = {
  signed_out: 'You have signed out.',
};

function signInNonce(ctx: KeyportContext<unknown>): string | undefined {
  const nonce = ctx.cookies.get(SIGN_IN_COOKIE, { signed: false });
  return nonce && NONCE_SHAPE.test(nonce) ? nonce : undefined;
}

async function renderSignIn(ctx: SignInContext, status: number, options: { email?: string; error?: string; next?: string; notice?: string } = {}): Promise<void> {
  // One nonce per browser, kept while it is valid, so two open sign-in tabs both work.
  const nonce = signInNonce(ctx) ?? CsrfTokens.newNonce();
  setSignInNonceCookie(ctx, nonce);
  await renderDashboardPage(ctx, status, 'sign_in', {
    title: 'Sign in to the dashboard',
    signInCsrf: ctx.services.dashboard.csrf.forSignIn(nonce),
    email: options.email ?? '',
    error: options.error,
    next: options.next ?? '',
    notice: options.notice,
  });
}

/** Login CSRF: the sign-in form's token must match the nonce cookie this browser got with the form. */
const checkSignInCsrf: Middleware<DashboardSignInRouteServices> = async function checkSignInCsrf(ctx, next) {
  const nonce = signInNonce(ctx);
  const body = (ctx.request as { body?: unknown }).body;
  const csrf = body && typeof body === 'object' ? (body as Record<string, unknown>).csrf : undefined;
  if (!nonce || !CsrfTokens.matches(csrf, ctx.services.dashboard.csrf.forSignIn(nonce))) throw new Forbidden(CSRF_REFUSAL);
  await next();
};

/** GET/POST /dashboard/login and POST /dashboard/logout. */
export function signInRoutes<S extends DashboardSignInRouteServices & PasswordSignInServices>(router: KeyportRouter<S>): void {
  router.get('/login', async function showSignIn(ctx: SignInContext) {
    const state = dashboardState(ctx);
    const next = safeNext(ctx.query.next);
    if (state.user?.isAdmin) return seeOther(ctx, next ?? '/dashboard/agents');
    const flag = typeof ctx.query.notice === 'string' ? ctx.query.notice : '';
    return renderSignIn(ctx, 200, { next, notice: NOTICES[flag] });
  });

  router.post('/login', checkSignInCsrf, parseForm(SignInForm), async function signIn(ctx) {
    const form = formOf<SignInForm>(ctx);
    const email = (form.email ?? '').trim();
    const next = safeNext(form.next);
    const { audit, dashboard } = ctx.services;

    // The same sign-in and limits as the OAuth login page: both pages check the same accounts.
    const attempt = await signInWithPassword(ctx, email, form.password);
    if (attempt.outcome === 'throttled') return renderSignIn(ctx, 429, { email, next, error: attempt.message });
    if (attempt.outcome === 'refused') {
      await audit.record({ action: 'dashboard.sign_in_failed', actor: 'anonymous', ip: ctx.ip, details: { email: email.slice(0, 254) } });
      return renderSignIn(ctx, 400, { email, next, error: 'Incorrect email or password.' });
    }
    const { user } = attempt;
    if (!user.isAdmin) {
      await audit.record({ action: 'dashboard.sign_in_refused', actor: `user:${user.id}`, ip: ctx.ip, targetType: 'user', targetId: user.id, details: { reason: 'not_admin' } });
      throw new Forbidden(`The dashboard is for Keyport administrators only, and ${user.email} is not one. Ask an administrator for access.`);
    }

    // A fresh session id at every sign-in; whatever session this browser had before ends.
    const previous = dashboardState(ctx).session;
    if (previous) await dashboard.sessions.close(previous.id);
    const opened = await dashboard.sessions.open(user.id, ctx.ip);
    ctx.cookies.set(SESSION_COOKIE, opened.token, cookieOptions(ctx));
    clearCookie(ctx, SIGN_IN_COOKIE);
    await audit.record({ action: 'dashboard.signed_in', actor: `user:${user.id}`, ip: ctx.ip, targetType: 'user', targetId: user.id, details: { session_id: opened.session.id } });
    return seeOther(ctx, next ?? '/dashboard/agents');
  });

  router.post('/logout', requireSession, checkCsrf, parseForm(CsrfOnlyForm), async function signOut(ctx: SignInContext) {
    const { session, user } = dashboardState(ctx);
    await ctx.services.dashboard.sessions.close(session!.id);
    ctx.services.dashboard.reveals.dropSession(session!.id);
    clearCookie(ctx, SESSION_COOKIE);
    await ctx.services.audit.record({ action: 'dashboard.signed_out', actor: `user:${user!.id}`, ip: ctx.ip, targetType: 'user', targetId: user!.id, details: { session_id: session!.id } });
    return seeOther(ctx, '/dashboard/login?notice=signed_out');
  });
}
