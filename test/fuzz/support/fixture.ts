import { hiddenValue } from '../../dashboard/helpers.js';
import { adminCaller } from '../../admin/support.js';
import { agentKey, login } from '../../exchange/support.js';
import { REDIRECT_URI, csrfOf, registerClient, startOidcApp } from '../../oidc/support.js';
import { TEST_SECRET, type TestApp } from '../../support/app.js';

/**
 * Tables holding what a request can create. A refused request (4xx) must leave their row counts
 * as they were. Left out: the audit log (refusals are audited on purpose), per-key usage counts
 * and revocation records (written on purpose when, e.g., a used refresh token comes back),
 * and both are written after the response by design.
 */
export const CREATED_BY_REQUESTS = ['agents', 'api_keys', 'api_key_sessions', 'oauth_clients', 'users', 'resource_servers', 'dashboard_sessions', 'oidc_payloads', 'signing_keys'] as const;

/** A running Keyport with real credentials of every kind, so generated requests can get past authentication. */
export interface FuzzFixture {
  readonly app: TestApp;
  /** Valid-looking values the generators mix with hostile ones. */
  readonly credentials: {
    readonly apiKey: string;
    readonly agentId: string;
    readonly keyId: string;
    readonly refreshToken: string;
    readonly accessToken: string;
    readonly adminToken: string;
    readonly client: { readonly id: string; readonly secret: string };
    readonly publicClientId: string;
    readonly dashboardCookie: string;
    readonly dashboardCsrf: string;
    readonly email: string;
    readonly password: string;
    /** A login page of a live authorization request: its path, cookies and CSRF token. */
    readonly interaction: { readonly path: string; readonly cookie: string; readonly csrf: string };
  };
  /** Values that must never appear in any response. */
  readonly secrets: readonly string[];
  rowCounts(): Promise<Record<string, number>>;
}

/** Starts an authorization request of the public client and stops on its login page. */
async function openInteraction(app: TestApp, clientId: string): Promise<{ path: string; cookie: string; csrf: string }> {
  const browser = app.http();
  const query = new URLSearchParams({
    client_id: clientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid email', state: 's', nonce: 'n',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  });
  const start = await browser.get(`/oauth/authorize?${query}`).expect(303);
  const path = start.headers.location as string;
  const cookie = ([] as string[]).concat(start.headers['set-cookie'] ?? []).map((value) => value.split(';')[0]).join('; ');
  const page = await browser.get(path).expect(200);
  return { path, cookie, csrf: csrfOf(page.text) };
}

export async function startFuzzFixture(): Promise<FuzzFixture> {
  const app = await startOidcApp({
    env: {
      // Forwarded headers are part of what is fuzzed; limits high enough that the fuzz reaches the
      // code behind them (429 itself is still checked wherever it comes up).
      TRUST_PROXY: 'true',
      LOG_LEVEL: 'http',
      RATE_LIMIT_PER_MIN: '1000000', RATE_LIMIT_PER_HOUR: '10000000', RATE_LIMIT_BURST: '1000000',
      RATE_LIMIT_CLIENT_PER_MIN: '1000000', RATE_LIMIT_LOGIN_PER_IP: '1000000', RATE_LIMIT_KEY_FAILURES_PER_IP: '1000000',
    },
  });
  const created = await agentKey(app, { scopes: ['read', 'write'] });
  const session = await login(app, created.apiKey, { session_id: 'fuzz' });
  const admin = await adminCaller(app);
  const publicClient = await registerClient(app, { name: 'fuzz spa', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], public: true });
  const password = 'fuzz password 1';
  const email = 'fuzz-admin@example.com';
  await app.services.oidc.users.create({ email, password, isAdmin: true });
  const browser = app.http();
  const form = await browser.get('/dashboard/login').expect(200);
  const signedIn = await browser.post('/dashboard/login').type('form').send({ csrf: hiddenValue(form.text, 'csrf'), email, password }).expect(303);
  const dashboardCookie = ([] as string[]).concat(signedIn.headers['set-cookie'] ?? []).map((cookie) => cookie.split(';')[0]).join('; ');
  const dashboardCsrf = hiddenValue((await browser.get('/dashboard/agents').expect(200)).text, 'csrf');
  const interaction = await openInteraction(app, publicClient.id);
  await app.services.oidc.ready();
  const signing = app.services.oidc.host.keyRing.privateJwks.map((jwk) => (jwk as { d?: string }).d).filter((d): d is string => typeof d === 'string');

  const { dataSource } = app.services.database;
  const quote = dataSource.options.type === 'better-sqlite3' ? (name: string) => `"${name}"` : (name: string) => `\`${name}\``;
  return {
    app,
    credentials: {
      apiKey: created.apiKey,
      agentId: created.agent.id,
      keyId: created.key.id,
      refreshToken: session.body.refresh_token as string,
      accessToken: session.body.access_token as string,
      adminToken: admin.token,
      client: admin.client,
      publicClientId: publicClient.id,
      dashboardCookie,
      dashboardCsrf,
      email,
      password,
      interaction,
    },
    secrets: [TEST_SECRET, admin.client.secret, created.apiKey, password, ...signing],
    async rowCounts() {
      const counts: Record<string, number> = {};
      for (const table of CREATED_BY_REQUESTS) {
        const [row] = await dataSource.query(`SELECT COUNT(*) AS n FROM ${quote(table)}`) as Array<{ n: number | string }>;
        counts[table] = Number(row!.n);
      }
      return counts;
    },
  };
}
