import type { Config } from '../../config/config.js';
import { RATE_LIMIT_HEADER_NAMES } from '../../ratelimit/headers.js';
import type { KeyportContext, Middleware } from '../context.js';

/** What CORS uses: the allowed origins. */
export interface CorsServices {
  readonly config: Pick<Config, 'corsOrigins'>;
}

/**
 * Where CORS_ORIGINS applies: the endpoints a browser app may call to get or manage a token.
 * The provider's public metadata (discovery, JWKS) stays open to every origin (the provider
 * answers that itself), and cookie-authenticated pages (interaction, dashboard, admin) never
 * answer cross-origin requests.
 */
const CORS_PATHS: ReadonlySet<string> = new Set([
  '/oauth/token', '/oauth/introspect', '/oauth/revoke',
  '/auth/login', '/auth/refresh', '/auth/test',
]);
const CORS_PATH_PREFIXES = ['/auth/sessions/'] as const;

export function isCorsPath(path: string): boolean {
  return CORS_PATHS.has(path) || CORS_PATH_PREFIXES.some((prefix) => path.startsWith(prefix));
}

const ALLOW_METHODS = 'GET, POST, DELETE';
/** Request headers a browser may send: credentials, content type, tracing, DPoP proofs. */
const ALLOW_HEADERS = 'Authorization, Content-Type, X-API-Key, X-Request-Id, DPoP';
/** Response headers a browser app may read, besides the CORS-safelisted ones. */
const EXPOSE_HEADERS = ['X-Request-Id', 'WWW-Authenticate', 'DPoP-Nonce', ...RATE_LIMIT_HEADER_NAMES].join(', ');
const PREFLIGHT_MAX_AGE = '600';

/** The origin of a header value, normalised like CORS_ORIGINS entries; `undefined` when it is none. */
function normaliseOrigin(origin: string): string | undefined {
  if (!origin || origin === 'null') return undefined;
  try {
    const url = new URL(origin);
    return ['http:', 'https:'].includes(url.protocol) ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** True when `origin` (an `Origin` header value) is one of CORS_ORIGINS: exact scheme, host and port. */
export function isOriginAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  const normalised = normaliseOrigin(origin ?? '');
  return normalised !== undefined && allowed.includes(normalised);
}

/**
 * For oidc-provider's `clientBasedCORS` configuration, so the provider's own CORS check agrees
 * with this module: `clientBasedCORS: clientBasedCors(config)`. The edge middleware below already
 * answers allowed origins (and the provider then steps aside, lib/shared/cors.js); the provider
 * consults this only for origins the edge refused, and must refuse them too.
 */
export function clientBasedCors(config: Pick<Config, 'corsOrigins'>): (ctx: unknown, origin: string, client: unknown) => boolean {
  return (_ctx, origin) => isOriginAllowed(origin, config.corsOrigins);
}

function removeCorsHeaders(ctx: KeyportContext<unknown>): void {
  if (ctx.headerSent) return;
  // The names alone (lower case): koa's ctx.response.headers copies every header and its value.
  for (const name of ctx.res.getHeaderNames()) {
    if (name.startsWith('access-control-')) ctx.res.removeHeader(name);
  }
}

/**
 * CORS for the token and exchange endpoints (docs/reference.md §1 `CORS_ORIGINS`). An allowed origin gets
 * the usual headers (no credentials: these endpoints take keys and secrets, never cookies); a
 * refused one gets none, so the browser withholds the response. Preflights are answered here,
 * before routing, so they never reach a route or count against a rate limit.
 */
export const cors: Middleware<CorsServices> = async function cors(ctx, next) {
  if (!isCorsPath(ctx.path)) return next();
  ctx.vary('Origin');
  const origin = ctx.get('Origin');
  const allowed = isOriginAllowed(origin, ctx.services.config.corsOrigins);

  if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
    if (allowed) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Methods', ALLOW_METHODS);
      ctx.set('Access-Control-Allow-Headers', ALLOW_HEADERS);
      ctx.set('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
    }
    ctx.status = 204;
    return undefined;
  }

  if (allowed) {
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    return next();
  }
  try {
    await next();
  } finally {
    // oidc-provider reflects any origin before its client check; a refused origin gets nothing.
    removeCorsHeaders(ctx);
  }
};
