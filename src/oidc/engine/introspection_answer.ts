import type { AccessToken, ClientCredentials, Provider } from './modules.js';

/**
 * Seam: a copy of the engine's introspection answer (lib/actions/introspection.js, its last step
 * `renderTokenResponse`), used by the introspection fast path (../introspection_fast_path.ts) to
 * answer in front of the engine exactly as the engine would. Nothing is patched; what it relies on
 * is the answer's shape, which test/oidc/introspection/fast_path.test.ts compares with the engine's.
 */

/**
 * The engine's answer for an active opaque token, built as lib/actions/introspection.js
 * (renderTokenResponse) builds it, in the same key order, for the cases handled here: no rich
 * authorization details, no certificate binding (DPoP-bound tokens carry `cnf.jkt`), public
 * subject identifiers.
 */
export function engineIntrospectionAnswer(provider: Provider, token: AccessToken | ClientCredentials, tokenValue: string): Record<string, unknown> {
  const model = token as AccessToken & { sid?: string; jkt?: string };
  const body: Record<string, unknown> = { active: false };
  if (model.accountId) body.sub = model.accountId;
  Object.assign(body, {
    ...model.extra,
    active: true,
    client_id: model.clientId,
    exp: model.exp,
    iat: model.iat,
    sid: model.sid,
    iss: provider.issuer,
    jti: model.jti !== tokenValue ? model.jti : undefined,
    aud: model.aud,
    authorization_details: undefined,
    scope: model.scope || undefined,
    cnf: model.jkt ? { jkt: model.jkt } : undefined,
    token_type: model.tokenType,
  });
  return body;
}

