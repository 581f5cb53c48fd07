import { expect } from 'chai';
import { REDIRECT_URI, registerClient, startOidcApp } from '../oidc/support.js';
import type { TestApp } from '../support/app.js';

/**
 * Engine routes that answered 500 to client input, found by the fuzz suite (test/fuzz/). Each
 * test names the engine corner it guards, so an engine upgrade that moves it fails here clearly.
 */
describe('security: engine routes never answer 5xx to client input', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp(); });
  after(async () => { await app.close(); });

  it('GET /oauth/authorize/:uid (resume) with a stray client_id in the query: the 400 page, not a TypeError 500', async () => {
    // A client with exactly one redirect URI: the engine's error handler then "recovers" the
    // redirect_uri from parameters the resume route never set (oneRedirectUriClients).
    const spa = await registerClient(app, { name: 'one redirect', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], public: true });
    for (const path of [`/oauth/authorize/no-such-interaction?client_id=${spa.id}`, `/oauth/authorize/no-such-interaction/?client_id=${spa.id}&response_type=code&scope=openid&state=s`]) {
      const res = await app.http().get(path);
      expect(res.status, path).to.equal(400);
      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.text).to.include(res.headers['x-request-id']);
    }
    expect(app.logs.join('\n')).not.to.include('"level":"error"');
  });
});
