/** Small fetch helpers for the probes that check a scenario works before it is loaded. */

export interface ProbeResponse {
  readonly status: number;
  readonly body: string;
  readonly json: Record<string, unknown> | undefined;
}

export function basicAuth(id: string, secret: string): string {
  // RFC 6749 §2.3.1: form-encode both parts before joining them.
  const enc = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

export function formBody(fields: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) params.set(key, value);
  return params.toString();
}

export async function probe(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<ProbeResponse> {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
  const body = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, body, json };
}

/** "POST /auth/login → 404 {"error":…}" for an "unavailable (…)" reason. */
export function describe(method: string, path: string, res: ProbeResponse): string {
  const snippet = res.body.replace(/\s+/g, ' ').trim().slice(0, 160);
  return `${method} ${path} → ${res.status}${snippet ? ` ${snippet}` : ''}`;
}

/** The decoded JOSE header of a compact JWT, or undefined for anything else (opaque tokens). */
export function jwtHeader(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
