/** Keyport (discovery, JWKS or introspection) could not be reached or gave an unusable answer. */
export class UpstreamError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

export type Fetch = typeof fetch;

/**
 * GET or POST to Keyport with a time limit, expecting a JSON object back. Anything else (network
 * error, timeout, non-2xx status, not JSON) is an UpstreamError whose message names the URL and
 * what went wrong, never a credential.
 */
export async function fetchJson(fetchImpl: Fetch, url: string, init: RequestInit, timeoutMs: number): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetchImpl(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'unreachable';
    throw new UpstreamError(`${url}: ${reason}`, { cause: error });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamError(`${url}: answered ${response.status}`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'the answer is not JSON';
    throw new UpstreamError(`${url}: ${reason}`, { cause: error });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UpstreamError(`${url}: the answer is not a JSON object`);
  return body as Record<string, unknown>;
}
