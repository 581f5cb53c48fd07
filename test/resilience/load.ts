import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { basicAuth, formBody } from '../../bench/lib/http.js';
import type { FaultStack } from './stack.js';

/** What kind of request, so its answer can be judged by the right contract. */
export type RequestKind = 'login' | 'token' | 'auth_test';

/** One answered request, timed by the load generator. */
export interface Sample {
  readonly kind: RequestKind;
  /** ms since the load started. */
  readonly start: number;
  readonly end: number;
  readonly status: number;
  /** Login: the session ID sent and the token received. */
  readonly sessionId?: string;
  readonly token?: string;
  /** Why the answer breaks its contract (a 503 without Retry-After, a 200 without a token…). */
  readonly problem?: string;
}

export interface LoadRun {
  readonly samples: Sample[];
  /** Connection errors by code (ECONNRESET, ECONNREFUSED…) and autocannon's timeouts. */
  readonly errors: Record<string, number>;
  readonly timeouts: number;
  readonly durationMs: number;
  /** When each timeline step had completed (ms since the load started), in order. */
  readonly marks: number[];
}

export interface LoadOptions {
  readonly connections: number;
  readonly durationMs: number;
  /** Login session IDs cycle through this many (each is asked for several times: same-token checks). */
  readonly sessions: number;
  /** Session IDs carry this prefix (one per scenario, so scenarios do not share sessions). */
  readonly sessionPrefix: string;
  /**
   * Every n-th login opens a session never seen before, so each phase writes (unset: none). On a
   * fast machine the whole pool exists before the fault, and a fault that only refuses writes (a
   * full disk) would otherwise meet nothing but reads.
   */
  readonly newSessionEvery?: number;
  /** Called at these offsets (ms since the load started), in order; awaited one after another. */
  readonly timeline?: ReadonlyArray<{ at: number; run: () => Promise<void> | void }>;
}

interface Pending {
  kind: RequestKind;
  sessionId?: string;
  sentAt: number;
}

function parse(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The contract of each answer: 200 with its payload, or 503 in the endpoint's error shape with Retry-After. */
function problemOf(kind: RequestKind, status: number, body: Record<string, unknown> | undefined, headers: Record<string, string>): string | undefined {
  if (status === 200) {
    if (kind === 'auth_test') return body?.authenticated === true ? undefined : 'a 200 without authenticated: true';
    return typeof body?.access_token === 'string' ? undefined : 'a 200 without access_token';
  }
  if (status !== 503) return `status ${status}`;
  const retryAfter = headers['retry-after'] ?? headers['Retry-After'];
  if (!retryAfter || !/^\d+$/.test(retryAfter)) return 'a 503 without Retry-After';
  if (kind === 'token') return body?.error === 'temporarily_unavailable' ? undefined : `a 503 with ${JSON.stringify(body)} (want temporarily_unavailable)`;
  const error = body?.error as Record<string, unknown> | undefined;
  if (error?.code !== 'service_unavailable' || typeof error.request_id !== 'string') return `a 503 with ${JSON.stringify(body)} (want service_unavailable)`;
  return undefined;
}

/**
 * Keep-alive load from autocannon on three of Keyport's paths, in turn on every connection:
 * `POST /auth/login` (session IDs from a fixed pool, so each session is asked for again and again),
 * `POST /oauth/token` (client credentials: the engine's error shape) and `GET /auth/test`. Every
 * answer is timed and checked against its contract; the timeline applies and lifts faults.
 */
export async function runLoad(stack: FaultStack, options: LoadOptions): Promise<LoadRun> {
  const samples: Sample[] = [];
  const errors: Record<string, number> = {};
  let counter = 0;
  const started = performance.now();
  const now = (): number => performance.now() - started;

  const record = (kind: RequestKind) => (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>): void => {
    const pending = context.pending as Pending | undefined;
    context.pending = undefined;
    if (!pending || pending.kind !== kind) return;
    const json = parse(body);
    samples.push({
      kind,
      start: pending.sentAt,
      end: now(),
      status,
      sessionId: pending.sessionId,
      token: kind === 'login' && typeof json?.access_token === 'string' ? json.access_token : undefined,
      problem: problemOf(kind, status, json, headers),
    });
  };
  const sent = (context: Record<string, unknown>, pending: Omit<Pending, 'sentAt'>): void => {
    context.pending = { ...pending, sentAt: now() };
  };

  const requests: autocannon.Request[] = [
    {
      method: 'POST',
      path: '/auth/login',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      setupRequest: (request, context) => {
        const n = counter++;
        const every = options.newSessionEvery;
        const sessionId = every && n % every === every - 1 ? `${options.sessionPrefix}-once-${n}` : `${options.sessionPrefix}-${n % options.sessions}`;
        sent(context, { kind: 'login', sessionId });
        return { ...request, body: JSON.stringify({ session_id: sessionId }) };
      },
      onResponse: record('login'),
    },
    {
      method: 'POST',
      path: '/oauth/token',
      headers: { authorization: basicAuth(stack.client.id, stack.client.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody({ grant_type: 'client_credentials', scope: 'read' }),
      setupRequest: (request, context) => {
        sent(context, { kind: 'token' });
        return request;
      },
      onResponse: record('token'),
    },
    {
      method: 'GET',
      path: '/auth/test',
      headers: { 'x-api-key': stack.apiKey },
      setupRequest: (request, context) => {
        sent(context, { kind: 'auth_test' });
        return request;
      },
      onResponse: record('auth_test'),
    },
  ];

  let timeouts = 0;
  const finished = new Promise<void>((resolve, reject) => {
    const instance = autocannon({
      url: stack.url,
      connections: options.connections,
      pipelining: 1,
      duration: options.durationMs / 1000,
      // Past the budget and its second of slack: a hang, counted, never waited for longer.
      timeout: Math.ceil((stack.budgetMs + 3000) / 1000),
      requests,
    }, (err, result) => {
      if (err) {
        reject(err);
        return;
      }
      timeouts = result.timeouts;
      resolve();
    });
    instance.on('reqError', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      errors[code] = (errors[code] ?? 0) + 1;
    });
  });

  const marks: number[] = [];
  const timeline = (async () => {
    for (const step of options.timeline ?? []) {
      const wait = step.at - now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await step.run();
      marks.push(now());
    }
  })();
  await Promise.all([finished, timeline]);
  return { samples, errors, timeouts, durationMs: now(), marks };
}
