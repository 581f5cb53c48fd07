import { expect } from 'chai';
import { decodeProtectedHeader } from 'jose';
import { agentWithKey, FRAMEWORKS, keyportRequests, login, serviceToken, startExample, startKeyport, type KeyportFixture, type RunningProcess } from './support.js';

/**
 * The example APIs (examples/koa, express, fastify) run as their own processes against a real
 * Keyport, and answer what their three lines of @keyport/verify promise.
 */
describe('resource-server kit: example APIs, happy paths', () => {
  let fx: KeyportFixture;
  before(async () => { fx = await startKeyport(); });
  after(async () => { await fx?.app.close(); });

  for (const framework of FRAMEWORKS) {
    describe(framework, () => {
      let api: RunningProcess;
      before(async () => {
        api = await startExample(framework, fx);
        // This API's audience is registered with Keyport for opaque tokens: those can only be checked by introspection.
        await fx.app.services.oidc.resourceServers.create({ audience: api.url, format: 'opaque', scopes: ['read', 'write'] });
      });
      after(async () => { await api?.stop(); });

      it('serves its RFC 9728 metadata document', async () => {
        const res = await fetch(`${api.url}/.well-known/oauth-protected-resource`);
        expect(res.status).to.equal(200);
        expect(res.headers.get('content-type')).to.match(/^application\/json/);
        expect(res.headers.get('access-control-allow-origin')).to.equal('*');
        expect(await res.json()).to.deep.equal({
          resource: api.url,
          authorization_servers: [fx.app.config.issuer],
          bearer_methods_supported: ['header'],
          scopes_supported: ['read', 'write'],
          resource_name: 'Orders API (example)',
        });
      });

      it("lets an agent's token from POST /auth/login through, with its claims", async () => {
        const { agent, key, apiKey } = await agentWithKey(fx.app, ['read']);
        const { access_token: token } = await login(fx.app, apiKey, `${framework}-run`);
        const res = await fetch(`${api.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).to.equal(200);
        const body = await res.json() as { orders: unknown[]; caller: Record<string, unknown> };
        expect(body.orders).to.have.length(2);
        expect(body.caller).to.include({
          sub: agent.id, client_id: 'keyport-api-key', scope: 'read', api_key_id: key.id, agent_id: agent.id,
          session_id: `${framework}-run`, env: 'live', access_type: key.accessType, iss: fx.app.config.issuer, verified_by: 'jwt',
        });
        expect(body.caller.aud).to.deep.equal([fx.app.config.issuer]);
        expect(body.caller.scopes).to.deep.equal(['read']);
      });

      it("lets a service's opaque token for this API through, checked by introspection", async () => {
        const token = await serviceToken(fx, 'read write', api.url);
        expect(token.split('.'), 'an opaque token, not a JWT').to.have.length(1);
        const res = await fetch(`${api.url}/orders`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        expect(res.status).to.equal(201);
        expect(await res.json()).to.deep.equal({ created: 'ord_3', by: fx.service.id });
      });

      it('asks Keyport on the route that must see revocations, and says so', async () => {
        const { apiKey } = await agentWithKey(fx.app, ['read', 'write']);
        const { access_token: token } = await login(fx.app, apiKey, 'deleter');
        const before = keyportRequests(fx.app, '/oauth/introspect');
        const res = await fetch(`${api.url}/orders/ord_1`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
        expect(res.status).to.equal(200);
        expect(await res.json()).to.include({ deleted: 'ord_1', verified_by: 'jwt+introspection' });
        expect(keyportRequests(fx.app, '/oauth/introspect') - before).to.equal(1);
      });

      it('fetches the JWKS again when a token names a key it has not seen (signing-key rotation)', async () => {
        const { apiKey } = await agentWithKey(fx.app, ['read']);
        const first = await login(fx.app, apiKey, 'before-rotation');
        expect((await fetch(`${api.url}/orders`, { headers: { authorization: `Bearer ${first.access_token}` } })).status).to.equal(200);
        const fetchesBefore = keyportRequests(fx.app, '/oauth/jwks');

        const rotated = await fx.app.services.oidc.rotateSigningKey();
        await fx.app.services.oidc.host.reload();
        const second = await login(fx.app, apiKey, 'after-rotation');
        expect(decodeProtectedHeader(second.access_token).kid, 'signed by the new key').to.equal(rotated.kid);

        const res = await fetch(`${api.url}/orders`, { headers: { authorization: `Bearer ${second.access_token}` } });
        expect(res.status, await res.clone().text()).to.equal(200);
        expect(keyportRequests(fx.app, '/oauth/jwks') - fetchesBefore, 'one JWKS fetch for the unknown kid').to.equal(1);
        // The old key is still published: its tokens keep working, without another fetch.
        expect((await fetch(`${api.url}/orders`, { headers: { authorization: `Bearer ${first.access_token}` } })).status).to.equal(200);
        expect(keyportRequests(fx.app, '/oauth/jwks') - fetchesBefore).to.equal(1);
      });
    });
  }
});
