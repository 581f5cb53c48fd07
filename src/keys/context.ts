/** Who performs a change, for the audit trail: `cli`, `user:usr_…`, `admin-token:…`. */
export interface ActionContext {
  readonly actor: string;
  /** The caller's address when the change came over HTTP. */
  readonly ip?: string;
}

/** Ids are short and prefixed; anything else cannot exist, so it is "not found" without a query. */
export function plausibleId(value: unknown, prefix: 'agent' | 'key'): value is string {
  return typeof value === 'string' && value.length <= 64 && value.startsWith(`${prefix}_`) && /^[a-z]{3,5}_[A-Za-z0-9]+$/.test(value);
}

/** For messages: at most 64 characters of a caller-supplied id, quoted. */
export function quoteId(value: unknown): string {
  return JSON.stringify(String(value).slice(0, 64));
}
