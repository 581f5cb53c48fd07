import type { Config } from '../config/config.js';
import type { Middleware, KeyportContext } from '../http/context.js';
import type { ActionContext } from '../keys/index.js';
import { isAgentSubject } from '../keys/agent_ids.js';
import { looksLikeApiKey } from '../keys/key_material.js';
import { KeyportError } from '../lib/errors.js';
import { API_KEY_CLIENT_ID } from '../exchange/api_key_client.js';
import type { VerifiedAccessToken } from '../oidc/access_tokens.js';
import { isDerived } from '../oidc/token_lineage.js';
import type { OidcServices } from '../oidc/services.js';

/** The scope every admin API call needs (docs/reference.md §7). */
export const ADMIN_SCOPE = 'admin';
/** RFC 6750 §3 realm of the admin API's challenges. */
export const ADMIN_REALM = 'keyport';

/** What the bearer-token steps reach: the one token verifier, the admin flag of users, the issuer (the audience). */
export interface AdminAuthServices {
  readonly oidc: Pick<OidcServices, 'accessTokens' | 'users'>;
  readonly config: Pick<Config, 'issuer'>;
}

/** Who is calling the admin API, set by `authenticateAdmin` for the handlers. */
export interface AdminPrincipal {
  /** The audit actor: `client:cli_…`, `agent:agent_…` or `user:usr_…`. */
  readonly actor: string;
  readonly token: VerifiedAccessToken;
}

declare module '../http/context.js' {
  interface KeyportState {
    /** The admin API's bearer credential, as presented (read by `readBearerToken`). */
    adminCredential?: string;
    /** …once verified (`verifyBearerToken`). */
    adminToken?: VerifiedAccessToken;
    /** …once authorised (`requireAdminScope`): what the handlers use. */
    admin?: AdminPrincipal;
  }
}

/** RFC 6750 §3 challenges; the error handler copies `headers` onto the response. */
const CHALLENGE = {
  missing: `Bearer realm="${ADMIN_REALM}"`,
  invalidToken: 'Bearer error="invalid_token"',
  insufficientScope: `Bearer error="insufficient_scope", scope="${ADMIN_SCOPE}"`,
} as const;

function unauthorized(message: string): KeyportError {
  return new KeyportError('unauthorized', message, { headers: { 'WWW-Authenticate': CHALLENGE.missing } });
}

function invalidToken(message?: string): KeyportError {
  return new KeyportError('invalid_token', message, { headers: { 'WWW-Authenticate': CHALLENGE.invalidToken } });
}

function insufficientScope(message: string): KeyportError {
  return new KeyportError('insufficient_scope', message, { headers: { 'WWW-Authenticate': CHALLENGE.insufficientScope } });
}

/** `Bearer <token68>` (RFC 6750 §2.1); the scheme is case-insensitive. */
const BEARER = /^Bearer(?:[ \t]+(.*))?$/i;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads `Authorization: Bearer <token>` into `ctx.state.adminCredential`. No Authorization header, or
 * another scheme, is a 401 `unauthorized` with a plain challenge; a Bearer header with a malformed
 * credential or an API key is 401 `invalid_token`: docs/reference.md §7 wants an access token here, and an API
 * key becomes one at `POST /auth/login`.
 */
export const readBearerToken: Middleware<unknown> = async function readBearerToken(ctx, next) {
  const header = ctx.get('Authorization').trim();
  const match = BEARER.exec(header);
  if (!match) {
    const hint = ctx.get('X-API-Key') ? ' API keys are not accepted here: exchange the key for an access token at POST /auth/login.' : '';
    throw unauthorized(`The admin API needs an access token with the "${ADMIN_SCOPE}" scope in the Authorization header (Bearer).${hint}`);
  }
  const credential = (match[1] ?? '').trim();
  if (credential === '' || !TOKEN68.test(credential)) throw invalidToken('The bearer token is malformed.');
  if (looksLikeApiKey(credential)) {
    throw invalidToken('API keys are not accepted by the admin API: exchange the key for an access token at POST /auth/login.');
  }
  ctx.state.adminCredential = credential;
  return next();
};

/**
 * Verifies the token through the one verifier of Keyport's tokens (signature, expiry, revocation
 * of the token, its grant, client, session or API key). The token must be for Keyport itself
 * (its audience includes the issuer): a token minted for another resource server is not a key
 * to this one, whatever scopes it carries.
 */
export const verifyBearerToken: Middleware<AdminAuthServices> = async function verifyBearerToken(ctx, next) {
  const token = await ctx.services.oidc.accessTokens.verify(ctx.state.adminCredential ?? '');
  // The raw token has done its job; nothing downstream should be able to echo it.
  ctx.state.adminCredential = undefined;
  if (!token) throw invalidToken();
  const audiences = token.aud === undefined ? [] : [token.aud].flat();
  if (!audiences.includes(ctx.services.config.issuer)) throw invalidToken('The access token was issued for another audience.');
  ctx.state.adminToken = token;
  return next();
};

/** A token minted from an API key carries the key's access type (and, as subject, its agent). */
function keyDerived(token: VerifiedAccessToken): boolean {
  return token.claims.access_type !== undefined || token.claims.api_key_id !== undefined || isAgentSubject(token.sub);
}

/**
 * The `admin` scope is necessary but not sufficient: the token must have been issued to a
 * principal that holds `admin` itself. A token minted from an API key must come from an `admin`
 * access-type key (only those may hold `admin`, but the claim is checked anyway), a token issued
 * to a user must belong to an admin user, and a client-credentials token stands for a client an
 * operator allowed the `admin` scope. A token obtained by exchanging another access token
 * (RFC 8693) never qualifies, whatever it carries: authority over Keyport is not something an
 * exchange may hand on. Neither does a token of `keyport-api-key` that no API key stands behind.
 */
export const requireAdminScope: Middleware<AdminAuthServices> = async function requireAdminScope(ctx, next) {
  const token = ctx.state.adminToken;
  if (!token) throw invalidToken();
  if (!token.scopes.includes(ADMIN_SCOPE)) throw insufficientScope(`The access token lacks the "${ADMIN_SCOPE}" scope.`);
  if (isDerived(token)) throw insufficientScope('A token obtained by exchanging another access token cannot use the admin API.');
  if (token.clientId === API_KEY_CLIENT_ID && typeof token.claims.api_key_id !== 'string') {
    throw insufficientScope('Only tokens minted from an admin API key may use the admin API.');
  }

  let actor: string;
  if (keyDerived(token)) {
    if (token.claims.access_type !== 'admin') throw insufficientScope('Only tokens from API keys of access type "admin" may use the admin API.');
    actor = `agent:${token.sub}`;
  } else if (token.accountId !== undefined) {
    const user = token.accountId.startsWith('usr_') ? await ctx.services.oidc.users.findById(token.accountId) : undefined;
    if (!user?.isAdmin) throw insufficientScope('Only admin users may use the admin API.');
    actor = `user:${user.id}`;
  } else {
    actor = `client:${token.clientId}`;
  }
  ctx.state.admin = { actor, token };
  return next();
};

/** The bearer-token steps every admin route starts with. */
export const authenticateAdmin: readonly Middleware<AdminAuthServices>[] = [readBearerToken, verifyBearerToken, requireAdminScope];

/** Who did it, for the domain services' audit trail. */
export function actionContext(ctx: KeyportContext<unknown>): ActionContext {
  const admin = ctx.state.admin;
  if (!admin) throw new Error('admin route reached without authentication');
  return { actor: admin.actor, ip: ctx.ip };
}
