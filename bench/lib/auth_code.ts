import { createHash, randomBytes } from 'node:crypto';
import { basicAuth } from './http.js';
import { percentile, type Measurement } from './load.js';
import { chooseForm, CookieJar, fillForm, parseForms } from './browser.js';

export interface AuthCodeSetup {
  readonly baseUrl: string;
  readonly clientId: string;
  /** Absent for a public client (PKCE only). */
  readonly clientSecret: string | undefined;
  readonly redirectUri: string;
  readonly scope: string;
  readonly email: string;
  readonly password: string;
}

/** A login that could not be completed, with the step that failed. */
export class FlowError extends Error {
  override readonly name = 'FlowError';
}

const MAX_STEPS = 12;

function snippet(text: string): string {
  return text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 160);
}

/**
 * One complete login as a browser and a client would do it: authorize with PKCE, follow the
 * redirects to the interaction pages, submit the login form (and consent if asked), take the
 * code from the redirect, redeem it at the token endpoint. Fresh cookies every time, so each
 * login checks the password (bcrypt) for real.
 */
export async function completeLogin(setup: AuthCodeSetup): Promise<void> {
  const jar = new CookieJar();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const authorize = new URL('/oauth/authorize', setup.baseUrl);
  authorize.search = new URLSearchParams({
    client_id: setup.clientId,
    response_type: 'code',
    redirect_uri: setup.redirectUri,
    scope: setup.scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();

  let url = authorize;
  let init: { method: string; body?: string; headers: Record<string, string> } = { method: 'GET', headers: {} };
  let passwordPagesSeen = 0;
  let code: string | undefined;
  for (let step = 0; step < MAX_STEPS && code === undefined; step += 1) {
    const cookie = jar.header(url);
    const res = await fetch(url, { ...init, headers: { ...init.headers, ...(cookie ? { cookie } : {}) }, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    jar.store(url, res.headers.getSetCookie());
    const where = `${init.method} ${url.pathname}`;
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const location = res.headers.get('location');
      if (!location) throw new FlowError(`${where} → ${res.status} without Location`);
      const next = new URL(location, url);
      if (`${next.origin}${next.pathname}` === setup.redirectUri.replace(/\?.*$/, '')) {
        const error = next.searchParams.get('error');
        if (error) throw new FlowError(`authorization ended with error=${error}: ${next.searchParams.get('error_description') ?? ''}`);
        if (next.searchParams.get('state') !== state) throw new FlowError('callback state does not match');
        code = next.searchParams.get('code') ?? undefined;
        if (!code) throw new FlowError('callback without code');
        break;
      }
      url = next;
      init = { method: 'GET', headers: {} };
      continue;
    }
    const body = await res.text();
    if (res.status !== 200) throw new FlowError(`${where} → ${res.status} ${snippet(body)}`);
    const form = chooseForm(parseForms(body));
    if (!form) throw new FlowError(`${where} → 200 page without a form: ${snippet(body)}`);
    if (form.controls.some((c) => c.type === 'password')) {
      passwordPagesSeen += 1;
      if (passwordPagesSeen > 1) throw new FlowError(`login form shown again after submitting the password: ${snippet(body)}`);
    }
    const fields = fillForm(form, setup);
    const target = new URL(form.action || url.toString(), url);
    if (form.method === 'GET') {
      target.search = fields.toString();
      url = target;
      init = { method: 'GET', headers: {} };
    } else {
      url = target;
      init = { method: 'POST', body: fields.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(setup.baseUrl).origin } };
    }
  }
  if (code === undefined) throw new FlowError(`no authorization code after ${MAX_STEPS} steps (last ${url.pathname})`);

  const tokenBody = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: setup.redirectUri, code_verifier: verifier });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (setup.clientSecret) headers.authorization = basicAuth(setup.clientId, setup.clientSecret);
  else tokenBody.set('client_id', setup.clientId);
  const res = await fetch(new URL('/oauth/token', setup.baseUrl), { method: 'POST', headers, body: tokenBody.toString(), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200 || !/"access_token"/.test(text)) throw new FlowError(`POST /oauth/token (authorization_code) → ${res.status} ${snippet(text)}`);
}

/**
 * `users` virtual users each completing logins back to back; none starts a new login after the
 * deadline, and the rate is completed logins over the time until the last one finished.
 */
export async function measureLogins(setup: AuthCodeSetup, users: number, durationS: number, warmupS: number): Promise<Measurement> {
  const runFor = async (seconds: number) => {
    const latencies: number[] = [];
    const failures: Record<string, number> = {};
    let errors = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const user = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await completeLogin(setup);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors += 1;
          const key = err instanceof FlowError ? err.message.slice(0, 80) : 'error';
          failures[key] = (failures[key] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: users }, user));
    const elapsed = (performance.now() - started) / 1000;
    return { latencies, failures, errors, elapsed };
  };
  if (warmupS > 0) await runFor(warmupS);
  const { latencies, failures, errors, elapsed } = await runFor(durationS);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    completed: latencies.length,
    errors,
    failures,
    seconds: elapsed,
  };
}
