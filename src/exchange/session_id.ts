import { createHash } from 'node:crypto';
import { InvalidRequest } from '../lib/errors.js';

/** The session of a key when the caller names none; naming it explicitly is the same session. */
export const DEFAULT_SESSION_ID = 'default';

/** Longest session ID, in Unicode code points (a varchar(128) holds that many on MySQL). */
export const MAX_SESSION_ID_LENGTH = 128;

/**
 * Letters, marks, digits, punctuation and symbols of any script (emoji included). Refused: every
 * kind of whitespace, control and format characters (zero-width joiners, bidi overrides: they make
 * two IDs that look alike differ), private-use, unassigned code points and lone surrogates.
 */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]+$/u;

/**
 * Validates a caller's session ID (`undefined`/`null` → the default session). IDs are opaque and
 * compared exactly: case-sensitive, no Unicode normalisation (what the caller sends is what they
 * get back in `session_id` and in the token's claim).
 */
export function parseSessionId(value: unknown, what = 'session_id'): string {
  if (value === undefined || value === null) return DEFAULT_SESSION_ID;
  if (typeof value !== 'string') throw new InvalidRequest(`${what} must be a string.`);
  if (value.length === 0) throw new InvalidRequest(`${what} must not be empty (omit it for the default session).`);
  // Count code points, but do not even iterate a string that is far too long.
  if (value.length > MAX_SESSION_ID_LENGTH * 2 || [...value].length > MAX_SESSION_ID_LENGTH) {
    throw new InvalidRequest(`${what} must be at most ${MAX_SESSION_ID_LENGTH} characters.`);
  }
  if (!PRINTABLE.test(value)) {
    throw new InvalidRequest(`${what} may only contain printable characters (no whitespace, control or format characters).`);
  }
  return value;
}

/** The unique-index key of a session ID: exact, whatever the database collation. */
export function sessionHash(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('hex');
}
