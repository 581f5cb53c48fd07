/**
 * Seconds to wait before retrying, from a `Retry-After` header (delta-seconds or an HTTP date,
 * RFC 9110 §10.2.3) or, failing that, Keyport's `error.retry_after` (docs/reference.md §4; also read at the top
 * level of the body). Undefined when neither says.
 */
export function retryAfterSeconds(header: string | null, body: unknown, now = Date.now()): number | undefined {
  if (header !== null && header.trim() !== '') {
    const value = header.trim();
    if (/^\d+$/.test(value)) return Number(value);
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - now) / 1000));
  }
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const error = typeof record.error === 'object' && record.error !== null ? (record.error as Record<string, unknown>) : {};
  for (const candidate of [error.retry_after, record.retry_after]) {
    if (typeof candidate === 'number' && Number.isFinite(candidate) && candidate >= 0) return Math.ceil(candidate);
  }
  return undefined;
}
