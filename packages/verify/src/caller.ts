import { setTimeout as sleep } from 'node:timers/promises';
import { retryAfterSeconds } from './retry_after.js';

export interface CallerOptions {
  /** Keyport's base URL (its issuer), e.g. `https://keyport.example.com`. */
  readonly issuer: string;
  /** The agent's API key (`ak_live_…`, `ak_test_…` or `agt_…`). Sent to Keyport only, never to an API. */
  readonly apiKey: string;
  /** Keyport session ID: tokens of one session are revoked together (`DELETE /auth/sessions/:id`). */
  readonly sessionId?: string;
  /** Narrow the token to these scopes (default: every scope of the key). */
  readonly scope?: string | readonly string[];
  /** Get a new token this long before the current one expires (default 60 s; at most half the token's lifetime). */
  readonly refreshMarginSeconds?: number;
  /** Retries of a 429 or 503 that says when to come back (default 3). */
  readonly maxRetries?: number;
  /** A longer `Retry-After` than this is not waited for: the call fails with the error (default 60 s). */
  readonly maxRetryDelaySeconds?: number;
  /** Time limit of each request to Keyport (default 10 000 ms). */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  /** The clock, in epoch milliseconds (tests move it forward). */
  readonly now?: () => number;
}

/** Keyport refused or could not be reached. Carries docs/reference.md §4's code and request ID, never the key. */
export class KeyportCallerError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when Keyport could not be reached. */
    readonly status: number,
    /** docs/reference.md §4 code, e.g. `invalid_api_key`, `rate_limit_exceeded`. */
    readonly code: string,
    readonly requestId: string | undefined,
    /** What Keyport asked for on a 429/503 that was not retried (more retries than allowed, or too long a wait). */
    readonly retryAfterSeconds: number | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'KeyportCallerError';
  }
}

/** After a failed renewal while the held token is still valid, how long until the next try. */
const RETRY_RENEWAL_MS = 5000;

interface TokenAnswer {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
}

interface HeldToken {
  readonly accessToken: string;
  readonly expiresAt: number;
  /** When to get the next one. */
  readonly renewAt: number;
}

/**
 * Gets Keyport access tokens for an agent or script: trades the API key (+ session ID) at
 * `POST /auth/login`, reuses the token until shortly before it expires, then gets the next one at
 * `POST /auth/refresh` (falling back to a new login if the refresh token was refused), and waits
 * as Keyport says (`Retry-After`, `error.retry_after`) when rate-limited. Concurrent callers share
 * one request.
 *
 *     const keyport = createCaller({ issuer: 'https://keyport.example.com', apiKey: process.env.KEYPORT_API_KEY!, sessionId: 'nightly' });
 *     const res = await keyport.fetch('https://api.example.com/orders');
 */
export class KeyportCaller {
  private held: HeldToken | undefined;
  private refreshToken: string | undefined;
  private renewing: Promise<HeldToken> | undefined;
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  /** Requests made to Keyport, by path (for the tests and for logs). */
  readonly requests = { login: 0, refresh: 0 };

  constructor(private readonly options: CallerOptions) {
    if (!options.apiKey) throw new TypeError('@keyport/verify: apiKey is required');
    this.base = new URL(options.issuer).href.replace(/\/$/, '');
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
  }

  /** A valid access token: the held one, or a new one when it is (nearly) expired. */
  async accessToken(): Promise<string> {
    if (this.held && this.now() < this.held.renewAt) return this.held.accessToken;
    this.renewing ??= this.renew().catch((error: unknown) => {
      // Keyport is down or busy but the token we hold still works: use it, and ask again in a
      // few seconds rather than on every call.
      const held = this.held;
      if (!held || this.now() >= held.expiresAt) throw error;
      this.held = { ...held, renewAt: Math.min(held.expiresAt, this.now() + RETRY_RENEWAL_MS) };
      return held;
    }).finally(() => { this.renewing = undefined; });
    return (await this.renewing).accessToken;
  }

  /** `Bearer <token>`, for an Authorization header. */
  async authorization(): Promise<string> {
    return `Bearer ${await this.accessToken()}`;
  }

  /** Forget the current access token (e.g. an API said it was revoked); the next call gets a new one. */
  invalidate(): void {
    this.held = undefined;
  }

  /**
   * `fetch` with the token in the Authorization header. If the API answers 401 `invalid_token`
   * (revoked, or its session ended), gets a new token and tries once more; so the request body
   * must be replayable (a string, Buffer or URLSearchParams, not a stream).
   */
  async fetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const send = async (): Promise<Response> => {
      const headers = new Headers(init.headers);
      headers.set('authorization', await this.authorization());
      return this.fetchImpl(input, { ...init, headers });
    };
    const first = await send();
    if (first.status !== 401 || !/error="invalid_token"/.test(first.headers.get('www-authenticate') ?? '')) return first;
    await first.body?.cancel().catch(() => undefined);
    this.invalidate();
    return send();
  }

  private async renew(): Promise<HeldToken> {
    const previous = this.held;
    let answer: TokenAnswer | undefined;
    if (this.refreshToken) {
      try {
        this.requests.refresh += 1;
        answer = await this.post('/auth/refresh', { refresh_token: this.refreshToken }, {});
      } catch (error) {
        // A refused refresh token (used, expired, its session ended): log in again. Anything else stands.
        if (!(error instanceof KeyportCallerError) || (error.status !== 400 && error.status !== 401)) throw error;
        this.refreshToken = undefined;
      }
    }
    if (!answer) {
      const scope = typeof this.options.scope === 'string' ? this.options.scope : this.options.scope?.join(' ');
      this.requests.login += 1;
      answer = await this.post('/auth/login', {
        ...(this.options.sessionId !== undefined ? { session_id: this.options.sessionId } : {}),
        ...(scope ? { scope } : {}),
      }, { authorization: `Bearer ${this.options.apiKey}` });
    }
    this.refreshToken = answer.refresh_token ?? this.refreshToken;
    const receivedAt = this.now();
    const lifetimeMs = answer.expires_in * 1000;
    const expiresAt = receivedAt + lifetimeMs;
    const marginMs = Math.min((this.options.refreshMarginSeconds ?? 60) * 1000, lifetimeMs / 2);
    // A login while the session's token is still valid gives that same token back: keep it to its end
    // instead of asking again and again as the margin shrinks.
    const renewAt = previous?.accessToken === answer.access_token ? expiresAt : expiresAt - marginMs;
    this.held = { accessToken: answer.access_token, expiresAt, renewAt };
    return this.held;
  }

  /** POST JSON to Keyport; waits and retries on 429/503 as Keyport says, within the configured bounds. */
  private async post(path: string, body: Record<string, unknown>, headers: Record<string, string>): Promise<TokenAnswer> {
    const maxRetries = this.options.maxRetries ?? 3;
    const maxDelay = this.options.maxRetryDelaySeconds ?? 60;
    for (let attempt = 0; ; attempt += 1) {
      let response: Response;
      try {
        response = await this.fetchImpl(`${this.base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
          body: JSON.stringify(body),
          redirect: 'error',
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
      } catch (error) {
        throw new KeyportCallerError(`POST ${path}: Keyport is unreachable`, 0, 'unreachable', undefined, undefined, { cause: error });
      }
      const parsed: unknown = await response.json().catch(() => undefined);
      if (response.status === 200 && isTokenAnswer(parsed)) return parsed;
      const wait = response.status === 429 || response.status === 503 ? retryAfterSeconds(response.headers.get('retry-after'), parsed) : undefined;
      if (wait !== undefined && attempt < maxRetries && wait <= maxDelay) {
        await sleep(wait * 1000);
        continue;
      }
      throw callerError(path, response, parsed, wait);
    }
  }
}

function isTokenAnswer(body: unknown): body is TokenAnswer {
  const record = body as Partial<TokenAnswer> | undefined;
  return typeof record?.access_token === 'string' && typeof record.expires_in === 'number';
}

function callerError(path: string, response: Response, body: unknown, retryAfter: number | undefined): KeyportCallerError {
  const error = (body as { error?: { code?: unknown; message?: unknown; request_id?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : response.status === 200 ? 'invalid_response' : `http_${response.status}`;
  const message = typeof error?.message === 'string' ? error.message : `Keyport answered ${response.status}.`;
  const requestId = typeof error?.request_id === 'string' ? error.request_id : response.headers.get('x-request-id') ?? undefined;
  return new KeyportCallerError(`POST ${path}: ${response.status} ${code}: ${message}${requestId ? ` (request ${requestId})` : ''}`, response.status, code, requestId, retryAfter);
}

export function createCaller(options: CallerOptions): KeyportCaller {
  return new KeyportCaller(options);
}

export { retryAfterSeconds };
