import { InsecureConnection } from '../../lib/errors.js';
import type { Config } from '../../config/config.js';
import type { Middleware } from '../context.js';

/** What the HTTPS requirement uses: whether it is on. */
export interface RequireHttpsServices {
  readonly config: Pick<Config, 'requireHttps'>;
}

/**
 * Reachable over plain HTTP even with REQUIRE_HTTPS: load-balancer and kubelet probes and the
 * Prometheus scraper usually talk to the instance directly, not through the TLS terminator.
 * None of them carries a credential or returns a secret.
 */
export const PLAIN_HTTP_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * docs/reference.md §5: with REQUIRE_HTTPS a plain-HTTP request gets 403 insecure_connection. "HTTPS" is
 * koa's `ctx.secure`: a TLS socket, or `X-Forwarded-Proto: https` only when TRUST_PROXY is on
 * (koa's `proxy` setting); an untrusted caller cannot claim HTTPS with a header. Runs before
 * body parsing and routing, so nothing sent over plain HTTP is looked at.
 */
export const requireHttps: Middleware<RequireHttpsServices> = function requireHttps(ctx, next) {
  if (ctx.services.config.requireHttps && !ctx.secure && !PLAIN_HTTP_PATHS.has(ctx.path)) {
    // Rejected (not thrown) so the error handler above sees it exactly as from an async step.
    return Promise.reject(new InsecureConnection());
  }
  // Nothing to do afterwards: hand on the promise instead of wrapping it in another.
  return next();
};
