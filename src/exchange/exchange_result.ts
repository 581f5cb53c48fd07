/** What every front door of the exchange hands out (`/auth/login`, `/auth/refresh`, the RFC 8693 grant). */
export interface ExchangeResult {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly scope: string;
  /** The API-key session the token belongs to (undefined for tokens outside any session). */
  readonly sessionId: string | undefined;
  readonly refreshToken: string | undefined;
  /** True when the session's earlier token was handed out again. */
  readonly reused: boolean;
}
