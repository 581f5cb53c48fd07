import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { REDIRECT_URI, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

/** Whatever arrives at an OAuth endpoint, the answer is a 4xx with an RFC 6749 error (or an error page), never a 500. */
describe('oidc: garbage at every endpoint', () => {
  let app: TestApp;
  let service: RegisteredClient;
  before(async () => {
    app = await startOidcApp();
    service = await registerClient(app, { grantTypes: ['client_credentials', 'authorization_code'], redirectUris: [REDIRECT_URI] });
  });
  after(async () => { await app.close(); });

  const basic = () => `Basic ${Buffer.from(`${service.id}:${service.secret}`).toString('base64')}`;
  const huge = 'x'.repeat(80_000);

  const postEndpoints = ['/oauth/token', '/oauth/introspect', '/oauth/revoke', '/oauth/par', '/oauth/userinfo', '/oauth/logout/confirm'];

  for (const path of postEndpoints) {
    it(`POST ${path}`, async () => {
      const requests = [
        app.http().post(path).set('Authorization', basic()).type('json').send('{"token":'),
        app.http().post(path).set('Authorization', basic()).type('json').send({ token: { nested: true } }),
        app.http().post(path).set('Authorization', basic()).type('form').send('token=%E0%A4%A&&&==='),
        app.http().post(path).set('Authorization', basic()).type('form').send({ token: huge }),
        app.http().post(path).set('Authorization', basic()).set('Content-Type', 'application/xml').send('<token/>'),
        app.http().post(path).set('Authorization', basic()).type('form').send('token=a&token=b&client_id=x&client_id=y'),
        app.http().post(path).set('Authorization', `Basic ${'A'.repeat(5000)}`).type('form').send({ token: 'x' }),
        app.http().post(path).set('Authorization', 'Basic Og==').type('form').send({ token: 'x' }),
        app.http().post(path).type('form').send({ token: 'x', client_id: '\u0000\u0001', client_secret: 's' }),
      ];
      for (const request of requests) {
        const res = await request;
        // A token that is merely unknown is a valid question: inactive / nothing to revoke (RFC 7662, 7009).
        if (res.status === 200 && path === '/oauth/introspect') { expect(res.body).to.deep.equal({ active: false }); continue; }
        if (res.status === 200 && path === '/oauth/revoke') { expect(res.text).to.equal(''); continue; }
        expect(res.status, `${path}: ${res.text.slice(0, 200)}`).to.be.within(400, 499);
        if (res.headers['content-type']?.startsWith('application/json')) expect(res.body).to.have.property('error').that.is.a('string');
        expect(res.text).not.to.match(/at .*\.js:\d+|node_modules|TypeError|SQLITE|ER_/);
      }
    });
  }

  it('GET endpoints with hostile query strings', async () => {
    const requests = [
      app.http().get('/oauth/authorize').query({ client_id: service.id, response_type: 'code', redirect_uri: REDIRECT_URI, scope: huge.slice(0, 6000) }),
      app.http().get('/oauth/authorize').query('client_id=a&client_id=b'),
      app.http().get('/oauth/authorize?%E0%A4%A'),
      app.http().get('/oauth/userinfo').set('Authorization', `Bearer ${'x'.repeat(9000)}`),
      app.http().get('/oauth/userinfo').set('Authorization', 'Bearer a.b.c'),
      app.http().get('/oauth/logout').query({ id_token_hint: 'not-a-jwt' }),
      app.http().get('/oauth/authorize/not-an-interaction'),
    ];
    for (const request of requests) {
      const res = await request;
      expect(res.status, res.text.slice(0, 200)).to.be.within(300, 499);
      expect(res.text).not.to.match(/at .*\.js:\d+|node_modules|TypeError/);
    }
    const reflected = await app.http().get('/oauth/authorize').query({ client_id: '<script>alert(1)</script>', redirect_uri: 'javascript:alert(1)' });
    expect(reflected.status).to.equal(400);
    expect(reflected.text).not.to.include('<script>');
    expect(reflected.headers).not.to.have.property('location');
  });

  it('wrong methods', async () => {
    for (const [method, path] of [['put', '/oauth/token'], ['delete', '/oauth/jwks'], ['post', '/.well-known/openid-configuration'], ['patch', '/oauth/introspect']] as const) {
      const res = await app.http()[method](path);
      expect(res.status, `${method} ${path}`).to.be.within(400, 499);
    }
  });
});
