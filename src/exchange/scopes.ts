import { InsufficientScope, InvalidRequest } from '../lib/errors.js';
import { SCOPE_TOKEN } from '../oidc/policy.js';

/** Longest `scope` parameter accepted (far more than every known scope together). */
export const MAX_SCOPE_PARAMETER_LENGTH = 1000;

/**
 * Parses a `scope` parameter (space-separated, RFC 6749 §3.3). Undefined when absent; an empty or
 * blank value is a mistake (it would otherwise silently mean "everything"), not "no scope".
 */
export function parseScopeParameter(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidRequest('scope must be a string of space-separated scopes.');
  if (value.length > MAX_SCOPE_PARAMETER_LENGTH) throw new InvalidRequest(`scope must be at most ${MAX_SCOPE_PARAMETER_LENGTH} characters.`);
  const scopes = [...new Set(value.split(' ').filter(Boolean))];
  if (scopes.length === 0) throw new InvalidRequest('scope must name at least one scope (omit it for all of the key\'s scopes).');
  const bad = scopes.find((scope) => !SCOPE_TOKEN.test(scope));
  if (bad !== undefined) throw new InvalidRequest('scope contains an invalid scope name.');
  return scopes;
}

/**
 * The scopes of a new token: the requested ones, which must all be among `available` (what the
 * key, its access type, the client and the audience allow together), or all of `available` when
 * nothing was requested. Asking for more is 403 insufficient_scope, never a silent narrowing.
 * The result keeps the order of `available`.
 */
export function narrowScopes(requested: readonly string[] | undefined, available: readonly string[], holder = 'The API key'): string[] {
  if (requested === undefined) {
    if (available.length === 0) throw new InsufficientScope(`${holder} holds no scope this client and audience may receive.`);
    return [...available];
  }
  const missing = requested.filter((scope) => !available.includes(scope));
  if (missing.length > 0) {
    throw new InsufficientScope(`${holder} does not grant ${missing.length === 1 ? 'scope' : 'scopes'} ${missing.map((scope) => `"${scope}"`).join(', ')} here; ask for a subset of: ${available.join(' ') || '(none)'}.`);
  }
  return available.filter((scope) => requested.includes(scope));
}

/** Intersection keeping the order of `first`. */
export function intersect(first: readonly string[], ...others: ReadonlyArray<readonly string[] | null>): string[] {
  return first.filter((scope) => others.every((other) => other === null || other.includes(scope)));
}
