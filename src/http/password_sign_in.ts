import type { User } from '../db/entities/user.js';
import type { Metrics } from '../lib/metrics.js';
import type { OidcServices } from '../oidc/services.js';
import { setRateLimitHeaders, type RateLimits } from '../ratelimit/index.js';
import type { KeyportContext } from './context.js';

/** What a password sign-in uses: the login limits, the rejection counter, the accounts. */
export interface PasswordSignInServices {
  readonly rateLimits: Pick<RateLimits, 'consumeLoginIp' | 'consumePasswordFailure' | 'forgivePasswordFailure'>;
  readonly metrics: Pick<Metrics, 'rateLimitRejections'>;
  readonly oidc: Pick<OidcServices, 'users'>;
}

export type PasswordSignIn =
  | { readonly outcome: 'signed_in'; readonly user: User }
  /** Wrong email or password (the same answer for both). */
  | { readonly outcome: 'refused' }
  /** Over a limit: nothing was checked; the page says `message` with status 429. */
  | { readonly outcome: 'throttled'; readonly retryAfterSeconds: number; readonly message: string };

function minutes(seconds: number): string {
  const count = Math.ceil(seconds / 60);
  return `${count} minute${count === 1 ? '' : 's'}`;
}

/**
 * A password sign-in, as the OAuth login page and the dashboard both do it (same accounts, same
 * limits). Every attempt counts against the address (`RATE_LIMIT_LOGIN_PER_IP` a minute), and is
 * booked as a failure of the address + email and of the address *before* bcrypt runs, so parallel
 * guesses are counted one by one (docs/oauth.md "Security decisions": 5 and 30 per 15 minutes); a
 * correct password takes its booking back. A refused attempt never reaches bcrypt. Sets the
 * rate-limit fields, and `Retry-After` when throttled.

 */
export async function signInWithPassword(ctx: KeyportContext<PasswordSignInServices>, email: string, password: string | undefined): Promise<PasswordSignIn> {
  const { rateLimits, metrics, oidc } = ctx.services;
  const attempts = await rateLimits.consumeLoginIp(ctx.ip);
  const failures = attempts.allowed ? await rateLimits.consumePasswordFailure(ctx.ip, email) : attempts;
  setRateLimitHeaders(ctx, failures.allowed ? attempts : failures);
  if (!failures.allowed) {
    metrics.rateLimitRejections.inc({ limiter: failures.limiter });
    ctx.set('Retry-After', String(failures.retryAfterSeconds));
    const message = failures.limiter === 'login'
      ? `Too many failed sign-in attempts. Wait ${minutes(failures.retryAfterSeconds)} and try again.`
      : `Too many sign-in attempts from your address. Wait ${minutes(failures.retryAfterSeconds)} and try again.`;
    return { outcome: 'throttled', retryAfterSeconds: failures.retryAfterSeconds, message };
  }
  const user = email && password ? await oidc.users.verifyPassword(email, password) : undefined;
  if (!user) return { outcome: 'refused' };
  await rateLimits.forgivePasswordFailure(ctx.ip, email);
  return { outcome: 'signed_in', user };
}
