import { pooledRandomBytes } from '../../lib/crypto.js';
import type { Middleware } from '../context.js';
import { isCorsPath } from './cors.js';

declare module '../context.js' {
  interface KeyportState {
    /**
     * Per-response nonce allowed by the Content-Security-Policy of HTML pages: a template's
     * inline `<script>` must carry `nonce="<%= cspNonce %>"`, or it does not run.
     */
    cspNonce?: string;
  }
}

/** Two years, the usual HSTS preload threshold; subdomains of the issuer host are covered too. */
const HSTS = 'max-age=63072000; includeSubDomains';

/**
 * The policy of HTML pages (login, consent, dashboard, provider pages):
 * - scripts only from this origin or with the response's nonce (oidc-provider adds the hash of
 *   its own inline form_post script to `script-src` when it sees this header, see
 *   oidc-provider lib/helpers/script_src_sha.js);
 * - inline styles are allowed: the provider's built-in pages use them and style injection is
 *   not a script-execution risk;
 * - no framing (clickjacking of the login and consent forms), no plugins, no <base> rewriting;
 * - no `form-action`: browsers apply it to the redirect that follows a form post, which is how
 *   the login form hands back to the client's redirect_uri.
 */
export function pageContentSecurityPolicy(nonce: string): string {
  return `${CSP_BEFORE_NONCE}${nonce}${CSP_AFTER_NONCE}`;
}

/** The policy around the nonce, joined once (it is built for every response). */
const CSP_BEFORE_NONCE = "default-src 'self'; script-src 'self' 'nonce-";
const CSP_AFTER_NONCE = ["'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"].join('; ');

/** A fresh nonce for one response's page policy. */
function newCspNonce(): string {
  return pooledRandomBytes(16).toString('base64');
}

function isHtml(contentType: unknown): boolean {
  return typeof contentType === 'string' && /^\s*text\/html\b/i.test(contentType);
}

/**
 * The JSON APIs (the token, introspection and revocation endpoints, Keyport's `/auth/*` API: the
 * paths CORS applies to) answer JSON or an empty body, never a page, so no page policy is prepared
 * for them: a nonce, a ~200-character header and its removal on every token and API-key request.
 * Should one of them ever answer HTML, it still gets a page policy (see below).
 */
function preparesPagePolicy(path: string): boolean {
  return !isCorsPath(path);
}

/**
 * Headers every response carries, whatever produced it (our routes, the provider, the error
 * handler). The page CSP is set before the response is rendered (the provider reads it) and
 * removed afterwards when the response is not HTML. An HTML response without one (a JSON API
 * path, above) gets it afterwards, with a nonce nothing on the page can carry.
 */
export const securityHeaders: Middleware<unknown> = async function securityHeaders(ctx, next) {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('X-Frame-Options', 'DENY');
  // URLs of an authorization server carry codes and state; never send them to another site.
  ctx.set('Referrer-Policy', 'no-referrer');
  if (ctx.secure) ctx.set('Strict-Transport-Security', HSTS);
  const prepared = preparesPagePolicy(ctx.path);
  if (prepared) {
    const nonce = newCspNonce();
    ctx.state.cspNonce = nonce;
    ctx.set('Content-Security-Policy', pageContentSecurityPolicy(nonce));
  }
  try {
    await next();
  } finally {
    // Read from Node's response itself: koa's ctx.response.get() copies every header first.
    const html = isHtml(ctx.res.getHeader('Content-Type'));
    if (prepared && !html) ctx.remove('Content-Security-Policy');
    else if (!prepared && html && !ctx.res.hasHeader('Content-Security-Policy')) ctx.set('Content-Security-Policy', pageContentSecurityPolicy(newCspNonce()));
  }
};
