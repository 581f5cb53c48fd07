/**
 * Who called, as the API's handlers see it: the claims of the Keyport access token (RFC 9068
 * ones plus Keyport's own), the same whether the token was a JWT checked locally or a token
 * checked by introspection. Names are the wire names, so they match Keyport's documentation.
 */
export interface KeyportAuth {
  /**
   * The agent (`agent_…`; `agt_…` on tokens issued before Keyport migration 1733300000000) of an API-key token, the user of an authorization-code token, the client
   * of a client-credentials one. Introspection of an opaque client-credentials token names no
   * `sub`; then this is the client_id, as RFC 9068 §2.2 has it for tokens without a resource owner.
   */
  readonly sub: string;
  /** The OAuth client the token was issued to (`keyport-api-key` for tokens from POST /auth/login). */
  readonly client_id: string;
  /** Space-separated, as in the token. */
  readonly scope: string;
  readonly scopes: readonly string[];
  /** Set on tokens exchanged from an API key (POST /auth/login, RFC 8693 exchange). */
  readonly api_key_id: string | undefined;
  readonly agent_id: string | undefined;
  /** The caller's session ID (`session_id` at /auth/login). */
  readonly session_id: string | undefined;
  /** `test` for tokens of `ak_test_` keys: test traffic, not real customers. */
  readonly env: 'live' | 'test' | undefined;
  readonly access_type: string | undefined;
  readonly iss: string;
  readonly aud: readonly string[];
  /** Epoch seconds. */
  readonly exp: number;
  readonly iat: number | undefined;
  readonly jti: string | undefined;
  /** How this request's token was checked. */
  readonly verified_by: 'jwt' | 'introspection' | 'jwt+introspection';
  /** Every claim as received (JWT payload or introspection answer). */
  readonly claims: Readonly<Record<string, unknown>>;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const number = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

export function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((value): value is string => typeof value === 'string');
  return [];
}

export function splitScope(scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

/** Claims already checked by the caller (iss, aud, exp, client_id present). */
export function toAuth(claims: Record<string, unknown>, verifiedBy: KeyportAuth['verified_by']): KeyportAuth {
  const scopes = splitScope(claims.scope);
  const env = claims.env === 'live' || claims.env === 'test' ? claims.env : undefined;
  return {
    sub: text(claims.sub) ?? text(claims.client_id) ?? '',
    client_id: text(claims.client_id) ?? '',
    scope: scopes.join(' '),
    scopes,
    api_key_id: text(claims.api_key_id),
    agent_id: text(claims.agent_id),
    session_id: text(claims.session_id),
    env,
    access_type: text(claims.access_type),
    iss: text(claims.iss) ?? '',
    aud: audiences(claims.aud),
    exp: number(claims.exp) ?? 0,
    iat: number(claims.iat),
    jti: text(claims.jti),
    verified_by: verifiedBy,
    claims: Object.freeze({ ...claims }),
  };
}
