import { expect } from 'chai';
import type { TestApp } from '../support/app.js';
import { REDIRECT_URI } from '../oidc/support.js';
import { startMcpKeyport } from './support.js';

async function registeredCount(app: TestApp): Promise<number> {
  return (await app.services.oidc.clients.list()).filter((client) => client.registration === 'dynamic').length;
}

describe('mcp: dynamic client registration refused', () => {
  it('is closed by default: not advertised, no endpoint', async () => {
    const app = await startMcpKeyport();
    try {
      const metadata = (await app.http().get('/.well-known/oauth-authorization-server')).body;
      expect(metadata).not.to.have.property('registration_endpoint');
      const res = await app.http().post('/oauth/register').send({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' });
      expect(res.status).to.equal(404);
      expect(await registeredCount(app)).to.equal(0);
    } finally {
      await app.close();
    }
  });

  describe('open-public', () => {
    let app: TestApp;
    before(async () => { app = await startMcpKeyport({ env: { REGISTRATION_POLICY: 'open-public', RATE_LIMIT_REGISTRATION_PER_IP: '1000' } }); });
    after(async () => { await app?.close(); });
    afterEach(async () => { expect(await registeredCount(app), 'nothing stored').to.equal(0); });

    const base = { client_name: 'Agent', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' };
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['a confidential client', { ...base, token_endpoint_auth_method: 'client_secret_basic' }, 'invalid_client_metadata'],
      ['a client without token_endpoint_auth_method (the default is confidential)', { client_name: 'Agent', redirect_uris: [REDIRECT_URI] }, 'invalid_client_metadata'],
      ['a plain-http redirect to another host', { ...base, redirect_uris: ['http://client.example.com/cb'] }, 'invalid_redirect_uri'],
      ['a private-scheme redirect', { ...base, redirect_uris: ['com.example.app:/cb'] }, 'invalid_redirect_uri'],
      ['client_credentials', { ...base, grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
      ['Keyport API scopes', { ...base, keyport_api_scope: 'admin' }, 'invalid_client_metadata'],
      ['keys for a public client', { ...base, jwks_uri: 'https://client.example.com/jwks' }, 'invalid_client_metadata'],
      ['an overlong name', { ...base, client_name: 'n'.repeat(200) }, 'invalid_client_metadata'],
      ['too many redirect URIs', { ...base, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://client.example.com/cb${i}`) }, 'invalid_client_metadata'],
      ['no redirect URIs', { ...base, redirect_uris: [] }, 'invalid_redirect_uri'],
      ['a fragment in a redirect URI', { ...base, redirect_uris: ['https://client.example.com/cb#x'] }, 'invalid_redirect_uri'],
    ];
    for (const [name, body, error] of cases) {
      it(`refuses ${name} with ${error}`, async () => {
        const res = await app.http().post('/oauth/register').send(body);
        expect(res.status, res.text).to.equal(400);
        expect(res.body.error, res.text).to.equal(error);
      });
    }

    it('refuses a body that is not a JSON object', async () => {
      for (const body of ['[]', 'null', '"x"', '{']) {
        const res = await app.http().post('/oauth/register').set('content-type', 'application/json').send(body);
        expect(res.status, res.text).to.equal(400);
        expect(res.body.error).to.equal('invalid_request');
      }
    });
  });

  it('refuses a registration flood from one address with 429 and stores nothing past the limit', async () => {
    const app = await startMcpKeyport({ env: { REGISTRATION_POLICY: 'open-public', RATE_LIMIT_REGISTRATION_PER_IP: '3' } });
    try {
      const statuses: number[] = [];
      let last: { status: number; body: { error?: string }; headers: Record<string, string> } | undefined;
      for (let i = 0; i < 6; i += 1) {
        last = await app.http().post('/oauth/register').send({ client_name: `Flood ${i}`, redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' });
        statuses.push(last.status);
      }
      expect(statuses).to.deep.equal([201, 201, 201, 429, 429, 429]);
      expect(last!.body.error).to.equal('rate_limit_exceeded');
      expect(Number(last!.headers['retry-after'])).to.be.greaterThan(0);
      expect(await registeredCount(app)).to.equal(3);
    } finally {
      await app.close();
    }
  });

  it('initial-access-token: a wrong or expired token is invalid_token and stores nothing', async () => {
    const app = await startMcpKeyport({ env: { REGISTRATION_POLICY: 'initial-access-token' } });
    try {
      const { issueInitialAccessToken } = await import('../../src/oidc/registration.js');
      const { token } = await issueInitialAccessToken(app.services.oidc.payloads, 60, { now: () => Date.now() - 3_600_000 });
      for (const bearer of ['wrong', token]) {
        const res = await app.http().post('/oauth/register').set('Authorization', `Bearer ${bearer}`).send({ redirect_uris: [REDIRECT_URI] });
        expect(res.status, res.text).to.equal(401);
        expect(res.body.error).to.equal('invalid_token');
      }
      expect(await registeredCount(app)).to.equal(0);
    } finally {
      await app.close();
    }
  });
});
