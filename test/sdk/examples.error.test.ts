import { expect } from 'chai';
import { createServer } from 'node:net';
import { agentWithKey, claimsOf, ExampleExited, FRAMEWORKS, login, serviceToken, signWithServerKey, startExample, startExampleOn, startKeyport, type KeyportFixture, type RunningProcess } from './support.js';

const OTHER_API = 'https://other-api.example.com';

/**
 * Every refusal of the example APIs, with the exact status, RFC 6750 challenge (and RFC 9728
 * `resource_metadata`) and body, on each framework: the adapters must carry the core's answer
 * through unchanged.
 */
describe('resource-server kit: example APIs, refusals', () => {
  let fx: KeyportFixture;
  before(async () => {
    fx = await startKeyport();
    await fx.app.services.oidc.resourceServers.create({ audience: OTHER_API, format: 'jwt', scopes: ['read'] });
  });
  after(async () => { await fx?.app.close(); });

  it('each example refuses to start on a port already taken: it exits with EADDRINUSE, it does not say it listens', async () => {
    // Express 5 hands a failed listen to the callback: the example used to print "listening on" regardless.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    try {
      for (const framework of FRAMEWORKS) {
        const outcome = await startExampleOn(port, framework, fx).then(async (api) => { await api.stop(); return api.output.join(''); }, (err: unknown) => err);
        expect(outcome, `${framework}: ${String(outcome)}`).to.be.instanceOf(ExampleExited);
        const exited = outcome as ExampleExited;
        expect(exited.code, framework).to.not.equal(0);
        expect(exited.output, framework).to.include('EADDRINUSE');
        expect(exited.output, framework).to.not.include('listening on');
      }
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  for (const framework of FRAMEWORKS) {
    describe(framework, () => {
      let api: RunningProcess;
      let metadataUrl: string;
      before(async () => {
        api = await startExample(framework, fx);
        metadataUrl = `${api.url}/.well-known/oauth-protected-resource`;
      });
      after(async () => { await api?.stop(); });

      async function call(method: string, path: string, token?: string): Promise<{ status: number; challenge: string | null; body: unknown }> {
        const res = await fetch(`${api.url}${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
        return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.json() };
      }

      it('401 without a token: a challenge with no error code (RFC 6750 §3.1), the scope and where the metadata is', async () => {
        const res = await call('GET', '/orders');
        expect(res.status).to.equal(401);
        expect(res.challenge).to.equal(`Bearer scope="read", resource_metadata="${metadataUrl}"`);
        expect(res.body).to.deep.equal({ error: 'unauthorized', error_description: 'This API needs a Keyport access token in the Authorization header (Bearer).' });
      });

      it('401 invalid_token for an expired token signed by Keyport', async () => {
        const { apiKey } = await agentWithKey(fx.app, ['read']);
        const real = (await login(fx.app, apiKey, 'expiring')).access_token;
        const now = Math.floor(Date.now() / 1000);
        const expired = await signWithServerKey(fx.app, { ...claimsOf(real), iat: now - 3600, exp: now - 60 });
        const res = await call('GET', '/orders', expired);
        expect(res.status).to.equal(401);
        expect(res.challenge).to.equal(`Bearer error="invalid_token", error_description="The access token has expired.", scope="read", resource_metadata="${metadataUrl}"`);
        expect(res.body).to.deep.equal({ error: 'invalid_token', error_description: 'The access token has expired.' });
      });

      it('401 invalid_token for a token meant for another API (audience)', async () => {
        const token = await serviceToken(fx, 'read', OTHER_API);
        expect(claimsOf(token).aud).to.equal(OTHER_API);
        const res = await call('GET', '/orders', token);
        expect(res.status).to.equal(401);
        expect(res.challenge).to.equal(`Bearer error="invalid_token", error_description="The access token is not meant for this API (audience).", scope="read", resource_metadata="${metadataUrl}"`);
        expect(res.body).to.deep.equal({ error: 'invalid_token', error_description: 'The access token is not meant for this API (audience).' });
      });

      it('403 insufficient_scope naming the scope the route needs', async () => {
        const { apiKey } = await agentWithKey(fx.app, ['read']);
        const { access_token: token } = await login(fx.app, apiKey, 'reader');
        const res = await call('POST', '/orders', token);
        expect(res.status).to.equal(403);
        const description = 'The access token lacks a required scope (needs: write).';
        expect(res.challenge).to.equal(`Bearer error="insufficient_scope", error_description="${description}", scope="write", resource_metadata="${metadataUrl}"`);
        expect(res.body).to.deep.equal({ error: 'insufficient_scope', error_description: description });
      });

      it('401 invalid_token at once for a revoked token on the introspecting route (local checks cannot see it)', async () => {
        const { key, apiKey } = await agentWithKey(fx.app, ['read', 'write']);
        const { access_token: token } = await login(fx.app, apiKey, 'to-revoke');
        expect((await call('GET', '/orders', token)).status, 'valid before').to.equal(200);
        await fx.app.services.keys.apiKeys.revoke(key.id, { actor: 'test' });

        const res = await call('DELETE', '/orders/ord_1', token);
        expect(res.status).to.equal(401);
        const description = 'The access token is not active (expired or revoked).';
        expect(res.challenge).to.equal(`Bearer error="invalid_token", error_description="${description}", scope="write", resource_metadata="${metadataUrl}"`);
        expect(res.body).to.deep.equal({ error: 'invalid_token', error_description: description });
        // The trade-off the route chose against: a signature check alone accepts the token until it expires.
        expect((await call('GET', '/orders', token)).status).to.equal(200);
      });
    });
  }
});
