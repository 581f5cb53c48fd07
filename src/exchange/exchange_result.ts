/** What every front door of the exchange hands out (`/auth/login`, `/auth/refresh`, the RFC 8693 grant). */
export interface ExchangeResult {
  readonly accessToken: string;
  /** `DPoP` when the token is bound to the caller's DPoP key (RFC 9449), else `Bearer`. */
  readonly tokenType: 'Bearer' | 'DPoP';
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly scope: string;
  /** The API-key session the token belongs to (undefined for tokens outside any session). */
  readonly sessionId: string | undefined;
  readonly refreshToken: string | undefined;
  /** True when the session's earlier token was handed out again. */
  readonly reused: boolean;
}
