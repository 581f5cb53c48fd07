import { TIME_LEN, ulid } from 'ulid';
import { pooledRandomByte, randomAlphanumeric, randomToken } from './crypto.js';

/** Prefixed identifiers (`agent_…`, `key_…`) make logs and support tickets readable. */
export type IdPrefix = 'agent' | 'key' | 'cli' | 'dcr' | 'usr' | 'ses' | 'evt' | 'sig' | 'req';

export function newId(prefix: IdPrefix, length = 20): string {
  return `${prefix}_${randomAlphanumeric(length)}`;
}

/** ULID's randomness source: one pooled CSPRNG byte per character (its default asks WebCrypto once per character, ~70 µs an id here). */
function randomFraction(): number {
  return pooledRandomByte() / 256;
}

/**
 * A ULID (26 characters of Crockford base32: the creation time in milliseconds, then 80 random
 * bits), for ids inserted at a high rate into an indexed column. Why: a random id puts each new
 * row on a random leaf of the index, and SQLite writes every leaf a transaction touched to its WAL
 * whole (4 KiB), so a batch of random inserts rewrites as many pages as it has rows; ids that
 * grow with time land on the last leaf, one page for the whole batch (docs/benchmarks.md,
 * "Time-ordered ids"). Not for credentials: the creation time is readable from the id, and 80
 * bits identify, they do not authenticate.
 */
export function timeOrderedId(): string {
  return ulid(undefined, randomFraction);
}

/** A prefixed id (`ses_…`) whose rest is a time-ordered id (see timeOrderedId). */
export function newTimeOrderedId(prefix: IdPrefix): string {
  return `${prefix}_${timeOrderedId()}`;
}

/** How many leading characters of a time-ordered id are its time (ULID: 10). */
export const TIME_ORDERED_PREFIX_LENGTH: number = TIME_LEN;

/** A time-ordered id followed by 256 random bits (43 base64url characters): a credential that sorts by time. */
export function timeOrderedToken(): string {
  return `${timeOrderedId()}${randomToken(32)}`;
}

/** A ULID as `ulid()` writes it (upper case; the first character bounds the time to 48 bits). */
const ULID_PREFIX = /^[0-7][0-9A-HJKMNP-TV-Z]{25}/;

/** Whether `id` was made by timeOrderedId (26 characters) or timeOrderedToken (69). */
export function isTimeOrderedId(id: string): boolean {
  return (id.length === 26 || id.length === 69) && ULID_PREFIX.test(id);
}
