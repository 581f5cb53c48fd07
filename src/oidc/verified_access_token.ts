// The verified token's shape alone, apart from src/oidc/access_tokens.ts (which verifies tokens and
// imports the lineage rules), so src/oidc/token_lineage.ts can name it without an import cycle.

/** An active access token, JWT or opaque, as Keyport understands it. */
export interface VerifiedAccessToken {
  readonly format: 'jwt' | 'opaque';
  readonly jti: string;
  /** The account (`usr_…`, or another feature's subject) or, for client credentials, the client id. */
  readonly sub: string;
  /** The account id when the token was issued to a user or other subject (absent for client credentials). */
  readonly accountId?: string;
  readonly clientId: string;
  readonly scopes: string[];
  /** Epoch seconds. */
  readonly exp: number;
  readonly iat: number;
  readonly aud?: string | string[];
  readonly grantId?: string;
  /** Every claim (JWT payload; for opaque tokens the equivalent, including `extra` claims). */
  readonly claims: Readonly<Record<string, unknown>>;
}
