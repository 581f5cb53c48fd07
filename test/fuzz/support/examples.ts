import { REDIRECT_URI } from '../../oidc/support.js';
import type { FuzzFixture } from './fixture.js';

/** A request a route accepts, which the generator then mutates one field at a time. */
export interface Example {
  readonly type: 'json' | 'form';
  /** Body fields (query parameters for `query: true`). */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly query?: boolean;
  /** A fixed path (a live interaction's), instead of the template filled with generated segments. */
  readonly path?: string;
  /** Headers that make it authentic (a bearer token, a client's Basic credentials, the dashboard's cookie). */
  readonly headers: Readonly<Record<string, string>>;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

/**
 * Valid requests for the routes that take input, keyed by path template: without them, random
 * fields would rarely get past "unknown field" or authentication to the code behind. (The
 * generator uses them for about half of the requests to these routes.)
 */
export function examples(fixture: FuzzFixture): Readonly<Record<string, readonly Example[]>> {
  const c = fixture.credentials;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const admin = bearer(c.adminToken);
  const basic = { authorization: `Basic ${Buffer.from(`${c.client.id}:${c.client.secret}`).toString('base64')}` };
  const page = { cookie: c.dashboardCookie };
  return {
    '/interaction/:uid/login': [{ type: 'form', path: `${c.interaction.path}/login`, fields: { csrf: c.interaction.csrf, email: c.email, password: 'not the password' }, headers: { cookie: c.interaction.cookie } }],
    '/interaction/:uid/consent': [{ type: 'form', path: `${c.interaction.path}/consent`, fields: { csrf: c.interaction.csrf, decision: 'allow' }, headers: { cookie: c.interaction.cookie } }],
    '/interaction/:uid': [{ type: 'form', query: true, path: c.interaction.path, fields: {}, headers: { cookie: c.interaction.cookie } }],
    '/auth/login': [{ type: 'json', fields: { session_id: 'fuzz', scope: 'read' }, headers: bearer(c.apiKey) }],
    '/auth/refresh': [{ type: 'json', fields: { refresh_token: c.refreshToken }, headers: {} }],
    '/auth/test': [{ type: 'json', fields: { api_key: c.apiKey }, headers: {} }],
    '/admin/agents': [
      { type: 'json', fields: { name: 'fuzz agent', contact_email: 'ops@example.com', scopes: ['read'], env: 'test', expires_in: '90d', allow_ips: ['10.0.0.0/8'], rate_limit: { per_minute: 5 } }, headers: admin },
      { type: 'json', query: true, fields: { status: 'active', limit: '5' }, headers: admin },
    ],
    '/admin/keys': [
      { type: 'json', fields: { agent_id: c.agentId, name: 'fuzz key', scopes: 'read,write', access_type: 'integrations' }, headers: admin },
      { type: 'json', query: true, fields: { agent_id: c.agentId, limit: '3' }, headers: admin },
    ],
    '/admin/keys/:id/rotate': [{ type: 'json', fields: { grace: '1h' }, headers: admin }],
    '/admin/clients': [
      { type: 'json', fields: { name: 'fuzz client', grant_types: ['client_credentials'], scopes: 'read' }, headers: admin },
      { type: 'json', fields: { name: 'fuzz web', grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], public: true }, headers: admin },
    ],
    '/dashboard/agents': [{ type: 'form', fields: { csrf: c.dashboardCsrf, name: 'fuzz agent', contact_email: '' }, headers: page }],
    '/dashboard/agents/:agentId/keys': [{ type: 'form', fields: { csrf: c.dashboardCsrf, name: 'k', access_type: 'integrations', scopes: ['read', 'write'], env: 'live', expires_in: '', ip_allow_list: '', rate_limit_per_minute: '' }, headers: page }],
    '/dashboard/keys/:keyId/rotate': [{ type: 'form', fields: { csrf: c.dashboardCsrf, grace: '3600' }, headers: page }],
    '/dashboard/clients': [{ type: 'form', fields: { csrf: c.dashboardCsrf, name: 'fuzz client', grant_types: ['client_credentials'], redirect_uris: '', scopes: 'read' }, headers: page }],
    '/dashboard/audit': [{ type: 'form', query: true, fields: { target: c.agentId, limit: '50' }, headers: page }],
    '/oauth/token': [
      { type: 'form', fields: { grant_type: 'client_credentials', scope: 'read' }, headers: basic },
      { type: 'form', fields: { grant_type: TOKEN_EXCHANGE, client_id: 'keyport-api-key', subject_token: c.apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key', scope: 'read', session_id: 'fuzz-exchange' }, headers: {} },
      { type: 'form', fields: { grant_type: TOKEN_EXCHANGE, subject_token: c.accessToken, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', scope: 'read' }, headers: basic },
      { type: 'form', fields: { grant_type: 'refresh_token', client_id: 'keyport-api-key', refresh_token: c.refreshToken }, headers: {} },
      { type: 'form', fields: { grant_type: 'authorization_code', code: 'fuzz-code', redirect_uri: REDIRECT_URI, code_verifier: 'v'.repeat(43), client_id: c.publicClientId }, headers: {} },
    ],
    '/oauth/introspect': [
      { type: 'form', fields: { token: c.accessToken, token_type_hint: 'access_token' }, headers: basic },
      { type: 'form', fields: { token: c.apiKey, client_id: 'keyport-api-key' }, headers: {} },
    ],
    '/oauth/revoke': [{ type: 'form', fields: { token: c.refreshToken, client_id: 'keyport-api-key' }, headers: {} }],
    '/oauth/authorize': [{
      type: 'form', query: true, headers: {},
      fields: { client_id: c.publicClientId, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid email', state: 's', nonce: 'n', code_challenge: CHALLENGE, code_challenge_method: 'S256' },
    }],
    // The resume route (`/oauth/authorize/:uid`) reads no query; a stray one once made the engine answer 500.
    '/oauth/authorize/:uid': [{ type: 'form', query: true, fields: { client_id: c.publicClientId, response_type: 'code', state: 's' }, headers: {} }],
    '/oauth/userinfo': [{ type: 'form', query: true, fields: {}, headers: bearer(c.accessToken) }],
  };
}
