/**
 * Removes secrets from anything about to be logged: API keys, bearer tokens, passwords,
 * client secrets, authorization codes and credential-bearing headers. Applied by the logger to
 * every entry, so a call site cannot forget it.
 *
 * Logging runs on the request path (the access log writes every URL), so redaction must cost
 * work proportional to its input, whatever the input: every rule here is a single left-to-right
 * pass that never re-reads a character (no pattern can backtrack over a run it already matched),
 * and strings are cut to MAX_LOGGED_STRING first. An earlier JWT pattern re-scanned the rest of
 * the string from every `eyJ`: a 15 KB query cost 55–130 ms of CPU per log line.
 */
const SECRET_FIELD = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api_?key|access_token(_query)?|refresh_token|id_token|subject_token|actor_token|token|code_verifier|password|client_secret|secret|keyport_secret|client_assertion)$/i;

/**
 * `code` is an authorization code only among OAuth parameters; elsewhere it is an error code
 * (`invalid_request`, `ER_DUP_ENTRY`) that logs must keep. Beside any of these fields it is redacted.
 */
const OAUTH_PARAMETER_FIELDS: ReadonlySet<string> = new Set(['grant_type', 'redirect_uri', 'code_verifier', 'response_type', 'client_id', 'state', 'iss', 'session_state']);

/** ak_live_/ak_test_ keys, agt_ agent access tokens, Bearer/Basic credentials and secret query parameters in free text. */
const SECRET_TEXT: ReadonlyArray<[RegExp, string]> = [
  [/\bak_(live|test)_[A-Za-z0-9]+/g, 'ak_$1_[REDACTED]'],
  // 32 characters and more: a legacy agent id (`agt_` + 20) is an identifier, not a secret.
  [/\bagt_[A-Za-z0-9]{32,}/g, 'agt_[REDACTED]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [REDACTED]'],
  // A parameter of a query string, or the first one of a form body.
  [/((?:^|[?&])(access_token_query|access_token|api_key|refresh_token|id_token|token|subject_token|actor_token|code|code_verifier|client_secret|client_assertion|password)=)[^&\s"]*/gi, '$1[REDACTED]'],
];

/** Longest string logged as is; longer ones are cut (after which the rules above apply). */
export const MAX_LOGGED_STRING = 4096;
/** Deepest nesting logged; anything deeper is replaced, never passed through unredacted. */
const MAX_DEPTH = 8;
/** Longest list logged item by item. */
const MAX_LIST_ITEMS = 100;

export const REDACTED = '[REDACTED]';

const TOKEN_RUN = /[A-Za-z0-9_.-]+/g;
const WORD_CHAR = /[A-Za-z0-9_]/;

/**
 * JWTs (`eyJ…` header, payload and signature, dot-separated) in free text. Scans each maximal
 * run of base64url-and-dot characters once: from the first `eyJ` that starts a word, the rest
 * of the run is a JWT when it holds two more dots. A later `eyJ` in the same run could only
 * have fewer dots after it, so there is nothing else to try.
 */
function redactJwts(text: string): string {
  if (!text.includes('eyJ')) return text;
  return text.replace(TOKEN_RUN, (run) => {
    let start = run.indexOf('eyJ');
    while (start > 0 && WORD_CHAR.test(run[start - 1]!)) start = run.indexOf('eyJ', start + 1);
    if (start === -1) return run;
    const firstDot = run.indexOf('.', start);
    if (firstDot === -1 || run.indexOf('.', firstDot + 1) === -1) return run;
    return `${run.slice(0, start)}[REDACTED_JWT]`;
  });
}

/** The rules above on a string of any length (linear in it); `redactText` bounds the length first. */
export function scrubSecrets(text: string): string {
  let result = redactJwts(text);
  for (const [pattern, replacement] of SECRET_TEXT) result = result.replace(pattern, replacement);
  return result;
}

export function redactText(text: string): string {
  return scrubSecrets(text.length > MAX_LOGGED_STRING
    ? `${text.slice(0, MAX_LOGGED_STRING)}…[${text.length - MAX_LOGGED_STRING} more characters]`
    : text);
}

function isOAuthParameters(value: Record<string, unknown>): boolean {
  for (const key of Object.keys(value)) if (OAUTH_PARAMETER_FIELDS.has(key.toLowerCase())) return true;
  return false;
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[TOO_DEEP]';
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_LIST_ITEMS).map((item) => redact(item, depth + 1));
    return value.length > MAX_LIST_ITEMS ? [...items, `…[${value.length - MAX_LIST_ITEMS} more items]`] : items;
  }
  const record = value as Record<string, unknown>;
  const oauthParameters = isOAuthParameters(record);
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) {
    const secret = SECRET_FIELD.test(key) || (oauthParameters && key.toLowerCase() === 'code');
    result[key] = secret && item !== undefined && item !== null ? REDACTED : redact(item, depth + 1);
  }
  return result;
}
