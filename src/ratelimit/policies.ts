import type { RateLimitDefaults, RateLimitPolicies } from '../config/config.js';

/**
 * The limiters of docs/reference.md §5 (`login` is the password-guessing brake of the sign-in pages; plus
 * `introspection_ip`, unauthenticated introspection per address); also the `limiter` label of
 * `keyport_rate_limit_rejections_total`.
 */
export type LimiterName = 'api_key' | 'client' | 'login_ip' | 'login' | 'failed_key_ip' | 'introspection_ip' | 'user_code_ip' | 'device_poll' | 'registration_ip';

/** RFC 8628 §3.5: a device polls at most once per this many seconds (the default `interval`); faster polls get `slow_down`. */
export const DEVICE_POLL_INTERVAL_SECONDS = 5;
/** `RATE_LIMIT_USER_CODE_PER_IP` when not configured. */
export const DEFAULT_USER_CODE_ENTRIES_PER_IP = 10;

/** A fixed window: its name (as it appears in the RateLimit headers) and its length. */
export interface WindowSpec {
  readonly name: string;
  readonly seconds: number;
}

/** A window with the number of requests it allows. */
export interface WindowPolicy extends WindowSpec {
  readonly limit: number;
}

/** Window lengths, overridable in tests so a reset does not need a long sleep. */
export interface WindowLengths {
  readonly burst: number;
  readonly minute: number;
  readonly hour: number;
  /** The one window of the client and per-address limiters. */
  readonly single: number;
  /** The windows of failed password sign-ins. */
  readonly loginFailures: number;
}

export const DEFAULT_WINDOW_LENGTHS: WindowLengths = Object.freeze({ burst: 10, minute: 60, hour: 3600, single: 60, loginFailures: 15 * 60 });

/** Failed password sign-ins allowed per address and email, and per address, in a window (docs/oauth.md "Security decisions"). */
export const LOGIN_FAILURES_PER_ACCOUNT = 5;
export const LOGIN_FAILURES_PER_ADDRESS = 30;

/**
 * A key's own limits, stored with the key (docs/reference.md §3 "optional rate-limit override"). A missing,
 * null or non-positive value means "use the configured default" for that window.
 */
export interface ApiKeyLimitOverrides {
  readonly perMinute?: number | null;
  readonly perHour?: number | null;
  readonly burst?: number | null;
}

/** `live` keys and `test` keys count in separate namespaces: test traffic never eats live quota. */
export type KeyEnvironment = 'live' | 'test';

function pick(override: number | null | undefined, fallback: number): number {
  return typeof override === 'number' && Number.isInteger(override) && override > 0 ? override : fallback;
}

/** The three windows of one API key: burst (10 s), minute and hour, each with its limit. */
export function apiKeyWindows(defaults: RateLimitDefaults, lengths: WindowLengths, overrides?: ApiKeyLimitOverrides): WindowPolicy[] {
  return [
    { name: 'burst', seconds: lengths.burst, limit: pick(overrides?.burst, defaults.burst) },
    { name: 'minute', seconds: lengths.minute, limit: pick(overrides?.perMinute, defaults.perMinute) },
    { name: 'hour', seconds: lengths.hour, limit: pick(overrides?.perHour, defaults.perHour) },
  ];
}

/**
 * The two windows of the `login` limiter: failed sign-ins per address and email (a targeted
 * guess), and per address (stuffing many accounts).
 */
export function loginFailureWindows(lengths: WindowLengths): { account: WindowPolicy; address: WindowPolicy } {
  return {
    account: { name: 'login_account', seconds: lengths.loginFailures, limit: LOGIN_FAILURES_PER_ACCOUNT },
    address: { name: 'login_address', seconds: lengths.loginFailures, limit: LOGIN_FAILURES_PER_ADDRESS },
  };
}

/** The single window of each of the other limiters. */
export function singleWindow(limiter: Exclude<LimiterName, 'api_key' | 'login' | 'user_code_ip' | 'device_poll' | 'registration_ip'>, policies: RateLimitPolicies, lengths: WindowLengths): WindowPolicy {
  const limit = {
    client: policies.clientPerMinute,
    login_ip: policies.loginPerIpPerMinute,
    failed_key_ip: policies.keyFailuresPerIpPerMinute,
    introspection_ip: policies.publicIntrospectionPerIpPerMinute,
  }[limiter];
  return { name: limiter, seconds: lengths.single, limit };
}

/**
 * The window of `registration_ip` (dynamic client registration per address): its limit is part of
 * the registration settings (`RATE_LIMIT_REGISTRATION_PER_IP`, config/client_registration.ts).
 */
export function registrationWindow(perMinute: number, lengths: WindowLengths): WindowPolicy {
  return { name: 'registration_ip', seconds: lengths.single, limit: perMinute };
}
