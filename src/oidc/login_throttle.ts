import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Failed sign-ins allowed per (IP, email) and per IP before the login page answers 429. */
export const LOGIN_FAILURES_PER_ACCOUNT = 5;
export const LOGIN_FAILURES_PER_IP = 30;
export const LOGIN_THROTTLE_WINDOW_SECONDS = 15 * 60;

/**
 * Slows password guessing on the login page: failures are counted per IP + email (a targeted
 * guess) and per IP (stuffing many accounts); a success clears the account's count. In-process by
 * default; the rate-limit feature can hand in shared (Redis) limiters.
 */
export class LoginThrottle {
  constructor(
    private readonly perAccount: RateLimiterAbstract = new RateLimiterMemory({ keyPrefix: 'login-account', points: LOGIN_FAILURES_PER_ACCOUNT, duration: LOGIN_THROTTLE_WINDOW_SECONDS }),
    private readonly perIp: RateLimiterAbstract = new RateLimiterMemory({ keyPrefix: 'login-ip', points: LOGIN_FAILURES_PER_IP, duration: LOGIN_THROTTLE_WINDOW_SECONDS }),
  ) {}

  /** Whether another attempt may be checked at all. */
  async check(ip: string, email: string): Promise<ThrottleDecision> {
    const [account, address] = await Promise.all([this.perAccount.get(accountKey(ip, email)), this.perIp.get(ip)]);
    const blocked = [
      account && account.consumedPoints >= this.perAccount.points ? account : undefined,
      address && address.consumedPoints >= this.perIp.points ? address : undefined,
    ].filter((res): res is RateLimiterRes => res !== undefined);
    if (blocked.length === 0) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...blocked.map((res) => res.msBeforeNext)) / 1000)) };
  }

  /** Counts a failed attempt; tells when that was the last one allowed. */
  async recordFailure(ip: string, email: string): Promise<ThrottleDecision> {
    const results = await Promise.allSettled([this.perAccount.consume(accountKey(ip, email)), this.perIp.consume(ip)]);
    const rejected = results.flatMap((result) => (result.status === 'rejected' && result.reason instanceof RateLimiterRes ? [result.reason] : []));
    const failed = results.find((result) => result.status === 'rejected' && !(result.reason instanceof RateLimiterRes));
    if (failed && failed.status === 'rejected') throw failed.reason;
    if (rejected.length === 0) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...rejected.map((res) => res.msBeforeNext)) / 1000)) };
  }

  async recordSuccess(ip: string, email: string): Promise<void> {
    await this.perAccount.delete(accountKey(ip, email));
  }
}

function accountKey(ip: string, email: string): string {
  return `${ip}|${email.trim().toLowerCase().slice(0, 254)}`;
}
