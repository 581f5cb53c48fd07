import { isEmail } from 'class-validator';
import { parseDuration } from '../lib/duration.js';
import { InvalidRequest } from '../lib/errors.js';
import { normalizeAllowList } from './ip_allow_list.js';
import type { RateLimitOverride } from './records.js';
import { ACCESS_TYPES, DEFAULT_ACCESS_TYPE, DEFAULT_ENV, KEY_ENVS, resolveScopes, type AccessType, type KeyEnv } from './scopes.js';

/** Ten years: a longer "expiry" is a typo, and `null` already means "never". */
export const MAX_LIFETIME_SECONDS = 3650 * 86_400;
export const NAME_MAX_LENGTH = 100;
export const DEFAULT_KEY_NAME = 'default';
const RATE_LIMIT_MAX = { perMinute: 10_000_000, perHour: 100_000_000, burst: 10_000_000 } as const;

/**
 * What a caller (CLI, admin API, dashboard) may ask for when creating a key. Loose on purpose:
 * strings straight from a form or a flag are accepted and validated here, once, for everyone.
 */
export interface KeyOptionsInput {
  name?: string;
  /** A list, or one comma/space-separated string. Omitted: `read`. */
  scopes?: readonly string[] | string;
  /** `admin`, `integrations` (default) or `transactional`. */
  accessType?: string;
  /** `live` (default) or `test`. */
  env?: string;
  /** Lifetime in seconds, or a duration such as `90d`, `24h`, `30m`. */
  expiresIn?: number | string;
  /** An absolute expiry instead of `expiresIn`. */
  expiresAt?: Date | string;
  /** IPv4/IPv6 addresses and CIDR ranges: a list or one comma-separated string. */
  ipAllowList?: readonly string[] | string;
  rateLimit?: { perMinute?: number | null; perHour?: number | null; burst?: number | null };
  /** Defaults to the agent's contact. */
  contactEmail?: string | null;
}

/** Validated, canonical key settings; what rotation copies to the successor. */
export interface KeySettings {
  readonly name: string;
  readonly scopes: string[];
  readonly accessType: AccessType;
  readonly env: KeyEnv;
  readonly expiresAt: Date | null;
  readonly ipAllowList: string[] | null;
  readonly rateLimit: RateLimitOverride | null;
  readonly contactEmail: string | null;
}

export function validateName(value: unknown, what: string, fallback?: string): string {
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw new InvalidRequest(`${what}: is required.`);
  }
  if (typeof value !== 'string') throw new InvalidRequest(`${what}: must be a string.`);
  const name = value.trim();
  if (name.length === 0) throw new InvalidRequest(`${what}: must not be empty.`);
  if (name.length > NAME_MAX_LENGTH) throw new InvalidRequest(`${what}: at most ${NAME_MAX_LENGTH} characters.`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point of this check
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidRequest(`${what}: must not contain control characters.`);
  return name;
}

export function validateEmail(value: unknown, what = 'contact email'): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > 254 || !isEmail(value.trim())) {
    throw new InvalidRequest(`${what}: "${String(value).slice(0, 64)}" is not an email address.`);
  }
  return value.trim().toLowerCase();
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T, what: string): T {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidRequest(`${what}: must be one of ${allowed.join(', ')}, got "${String(value).slice(0, 32)}".`);
  }
  return value as T;
}

/** Seconds from a number of seconds or a duration text; bounded to (0, max]. */
export function parseSeconds(value: number | string, what: string, options: { min: number; max: number }): number {
  const seconds = typeof value === 'number' ? value : parseDuration(value);
  if (seconds === undefined || !Number.isInteger(seconds)) {
    throw new InvalidRequest(`${what}: "${String(value).slice(0, 32)}" is not a duration such as 90d, 24h, 30m, 45s or a number of seconds.`);
  }
  if (seconds < options.min || seconds > options.max) {
    throw new InvalidRequest(`${what}: must be between ${options.min} s and ${Math.floor(options.max / 86_400)} days.`);
  }
  return seconds;
}

function resolveExpiry(input: KeyOptionsInput, now: number): Date | null {
  if (input.expiresIn !== undefined && input.expiresAt !== undefined) throw new InvalidRequest('expiry: give either expires in or expires at, not both.');
  if (input.expiresIn !== undefined) {
    return new Date(now + parseSeconds(input.expiresIn, 'expires in', { min: 1, max: MAX_LIFETIME_SECONDS }) * 1000);
  }
  if (input.expiresAt !== undefined) {
    const at = input.expiresAt instanceof Date ? input.expiresAt : new Date(String(input.expiresAt));
    if (Number.isNaN(at.getTime())) throw new InvalidRequest('expires at: is not a date.');
    if (at.getTime() <= now) throw new InvalidRequest('expires at: must be in the future.');
    if (at.getTime() > now + MAX_LIFETIME_SECONDS * 1000) throw new InvalidRequest('expires at: at most ten years ahead.');
    return at;
  }
  return null;
}

function resolveRateLimit(input: KeyOptionsInput['rateLimit']): RateLimitOverride | null {
  if (!input) return null;
  const field = (value: unknown, name: keyof typeof RATE_LIMIT_MAX, label: string): number | null => {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > RATE_LIMIT_MAX[name]) {
      throw new InvalidRequest(`rate limit ${label}: must be a whole number between 1 and ${RATE_LIMIT_MAX[name]}, got ${JSON.stringify(value)?.slice(0, 32)}.`);
    }
    return value;
  };
  const perMinute = field(input.perMinute, 'perMinute', 'per minute');
  const perHour = field(input.perHour, 'perHour', 'per hour');
  const burst = field(input.burst, 'burst', 'burst');
  if (perMinute === null && perHour === null && burst === null) return null;
  return { perMinute, perHour, burst };
}

/**
 * Validates everything about a new key before anything is written. Errors are 400
 * invalid_request with a message naming the field (the CLI prints it as its one-line error).
 */
export function resolveKeySettings(input: KeyOptionsInput, options: { extraScopes: readonly string[]; defaultContact?: string | null; now?: number }): KeySettings {
  const now = options.now ?? Date.now();
  const accessType = oneOf(input.accessType, ACCESS_TYPES, DEFAULT_ACCESS_TYPE, 'access type');
  const env = oneOf(input.env, KEY_ENVS, DEFAULT_ENV, 'env');
  return {
    name: validateName(input.name, 'key name', DEFAULT_KEY_NAME),
    scopes: resolveScopes(input.scopes, accessType, options.extraScopes),
    accessType,
    env,
    expiresAt: resolveExpiry(input, now),
    ipAllowList: normalizeAllowList(input.ipAllowList),
    rateLimit: resolveRateLimit(input.rateLimit),
    contactEmail: validateEmail(input.contactEmail) ?? options.defaultContact ?? null,
  };
}
