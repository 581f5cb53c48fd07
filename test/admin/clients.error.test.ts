import { expect } from 'chai';
import { OAuthClient } from '../../src/db/entities/oauth_client.js';
import type { TestApp } from '../support/app.js';
import { REDIRECT_URI, startOidcApp } from '../oidc/support.js';
import { adminCaller, expectError, type AdminCaller } from './support.js';

const CC = { name: 'svc', grant_types: ['client_credentials'] };
const CODE = { name: 'web', grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI] };

describe('admin API: /admin/clients refuses bad input and bad states', () => {
  let app: TestApp;
  let admin: AdminCaller;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
  });
  after(async () => { await app.close(); });

  const clientCount = (): Promise<number> => app.services.database.dataSource.getRepository(OAuthClient).count();

  it('POST: 400 invalid_request naming the field, for every field, and registers nothing', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ grant_types: ['client_credentials'] }, /name/],
      [{ ...CC, name: 5 }, /name must be a string/],
      [{ ...CC, name: 'x'.repeat(129) }, /name is too long/],
      [{ ...CC, name: '  ' }, /client name/],
      [{ name: 'svc' }, /grant_types/],
      [{ ...CC, grant_types: 'client_credentials' }, /grant_types must be a list/],
      [{ ...CC, grant_types: [5] }, /grant_types must be a list/],
      [{ ...CC, grant_types: [] }, /At least one grant type/],
      [{ ...CC, grant_types: ['implicit'] }, /Unknown grant type "implicit"/],
      [{ ...CC, grant_types: ['x'.repeat(65)] }, /grant_types/],
      [{ ...CC, grant_types: Array.from({ length: 9 }, () => 'client_credentials') }, /grant_types/],
      [{ ...CODE, redirect_uris: REDIRECT_URI }, /redirect_uris must be a list/],
      [{ ...CODE, redirect_uris: [5] }, /redirect_uris/],
      [{ ...CODE, redirect_uris: ['not a uri'] }, /redirect URI "not a uri" is not an absolute URI/],
      [{ ...CODE, redirect_uris: ['https://a.example.com/cb#frag'] }, /fragment/],
      [{ ...CODE, redirect_uris: ['javascript:alert(1)'] }, /forbidden scheme/],
      [{ ...CODE, redirect_uris: [`https://a.example.com/${'x'.repeat(2000)}`] }, /redirect_uris/],
      [{ ...CODE, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://a.example.com/${i}`) }, /redirect_uris/],
      [{ ...CODE, redirect_uris: [] }, /at least one --redirect-uri/],
      [{ ...CC, redirect_uris: [REDIRECT_URI] }, /only applies to the authorization_code grant/],
      [{ ...CODE, post_logout_redirect_uris: ['nope'] }, /post-logout redirect URI "nope"/],
      [{ ...CODE, post_logout_redirect_uris: 'https://a.example.com' }, /post_logout_redirect_uris/],
      [{ ...CC, scopes: 5 }, /scopes/],
      [{ ...CC, scopes: ['bad"scope'] }, /Invalid scope/],
      [{ ...CC, scopes: ['x'.repeat(65)] }, /scopes/],
      [{ ...CC, scopes: Array.from({ length: 51 }, (_, i) => `s${i}`) }, /scopes/],
      [{ ...CC, public: 'yes' }, /public must be true or false/],
      [{ ...CC, public: true }, /public client cannot use client_credentials/],
      [{ ...CODE, public: true, jwks_uri: 'https://a.example.com/jwks' }, /public client has no keys/],
      [{ ...CC, jwks: 'keys' }, /jwks must be an object/],
      [{ ...CC, jwks: { keys: [] } }, /non-empty "keys" array/],
      [{ ...CC, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /public asymmetric keys/],
      [{ ...CC, jwks_uri: 5 }, /jwks_uri must be a string/],
      [{ ...CC, jwks_uri: 'not a uri' }, /JWKS URI/],
      [{ ...CC, jwks_uri: `https://a.example.com/${'x'.repeat(2000)}` }, /jwks_uri is too long/],
      [{ ...CC, client_secret: 'mine' }, /unknown field "client_secret"/],
      [{ ...CC, client_id: 'cli_mine' }, /unknown field "client_id"/],
      [{ ...CC, grant: ['client_credentials'] }, /unknown field "grant"/],
    ];
    const before = await clientCount();
    for (const [body, field] of cases) {
      const res = await admin.post('/admin/clients', body);
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message, JSON.stringify(body).slice(0, 200)).to.match(field);
    }
    expect(await clientCount()).to.equal(before);
  });

  it('GET takes no filters', async () => {
    expectError(await admin.get('/admin/clients?name=x'), 400, 'invalid_request');
  });

  it('404 not_found for unknown ids on show, rotate, revoke and delete', async () => {
    for (const id of ['cli_doesnotexist', 'nonsense', `cli_${'a'.repeat(100)}`]) {
      const shown = await admin.get(`/admin/clients/${id}`);
      expectError(shown, 404, 'not_found');
      expect(shown.body.error.message.length).to.be.below(120);
      expectError(await admin.post(`/admin/clients/${id}/rotate`), 404, 'not_found');
      expectError(await admin.post(`/admin/clients/${id}/revoke`), 404, 'not_found');
      expectError(await admin.delete(`/admin/clients/${id}`), 404, 'not_found');
    }
  });

  it('rotate: 409 conflict for a client without a secret; 400 for fields', async () => {
    const spa = (await admin.post('/admin/clients', { ...CODE, public: true }).expect(201)).body;
    const res = await admin.post(`/admin/clients/${spa.client_id}/rotate`);
    expectError(res, 409, 'conflict');
    expect(res.body.error.message).to.match(/no secret to rotate/);

    const svc = (await admin.post('/admin/clients', CC).expect(201)).body;
    expectError(await admin.post(`/admin/clients/${svc.client_id}/rotate`, { client_secret: 'mine' }), 400, 'invalid_request');
    expectError(await admin.post(`/admin/clients/${svc.client_id}/revoke`, { cascade: true }), 400, 'invalid_request');
    await app.http().post('/oauth/token').type('form').auth(svc.client_id, svc.client_secret).send({ grant_type: 'client_credentials' }).expect(200);
  });
});
