/**
 * Removes secrets from anything about to be logged: API keys, bearer tokens, passwords,
 * client secrets and credential-bearing headers. Applied by the logger to every entry, so a
 * call site cannot forget it.
 */
const SECRET_FIELD = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api_?key|access_token(_query)?|refresh_token|id_token|subject_token|actor_token|token|code|code_verifier|password|client_secret|secret|keyport_secret|client_assertion)$/i;

/** ak_live_/ak_test_ keys, JWTs and Bearer/Basic credentials that slip into free text. */
const SECRET_TEXT: ReadonlyArray<[RegExp, string]> = [
  [/\bak_(live|test)_[A-Za-z0-9]+/g, 'ak_$1_[REDACTED]'],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[REDACTED_JWT]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [REDACTED]'],
  [/([?&](access_token_query|access_token|api_key|refresh_token|token|code|client_secret)=)[^&\s"]*/gi, '$1[REDACTED]'],
];

export const REDACTED = '[REDACTED]';

export function redactText(text: string): string {
  let result = text;
  for (const [pattern, replacement] of SECRET_TEXT) result = result.replace(pattern, replacement);
  return result;
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    result[key] = SECRET_FIELD.test(key) && item !== undefined && item !== null ? REDACTED : redact(item, depth + 1);
  }
  return result;
}
