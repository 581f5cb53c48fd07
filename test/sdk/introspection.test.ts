import { expect } from 'chai';
import { createVerifier, type AuthOutcome } from '@keyport/verify';
import { agentWithKey, FaultProxy, keyportRequests, login, sleep, startKeyport, type KeyportFixture } from './support.js';

const API = 'https://orders.example.com';

function status(outcome: AuthOutcome): number {
  return outcome.ok ? 200 : outcome.status;
}

/**
 * Introspection for routes that must see revocation at once: answers cached per token for a
 * bounded time, one call for concurrent requests, and a circuit breaker in front of a Keyport that
 * stalls (a TCP proxy that accepts and never answers).
 */
describe('resource-server kit: introspection cache and circuit breaker', () => {
  let fx: KeyportFixture;
  before(async () => { fx = await startKeyport(); });
  after(async () => { await fx?.app.close(); });

  async function freshToken(sessionId: string): Promise<{ token: string; keyId: string }> {
    const { key, apiKey } = await agentWithKey(fx.app, ['read']);
    return { token: (await login(fx.app, apiKey, sessionId)).access_token, keyId: key.id };
  }

  it('reuses an answer for at most cacheSeconds: a revocation shows within that bound', async () => {
    const verifier = createVerifier({ issuer: fx.app.config.issuer, resource: API, audience: fx.app.config.issuer, introspection: { clientId: fx.apiClient.id, clientSecret: fx.apiClient.secret!, cacheSeconds: 2 } });
    const { token, keyId } = await freshToken('cached');
    const route = verifier.requirement({ scopes: ['read'], introspect: true });
    const calls = (): number => verifier.introspector!.calls;

    expect(status(await verifier.authenticate(`Bearer ${token}`, route))).to.equal(200);
    await fx.app.services.keys.apiKeys.revoke(keyId, { actor: 'test' });
    const cached = await verifier.authenticate(`Bearer ${token}`, route);
    expect(status(cached), 'the cached answer, within the bound').to.equal(200);
    expect(calls()).to.equal(1);

    await sleep(2100);
    const fresh = await verifier.authenticate(`Bearer ${token}`, route);
    expect(status(fresh), 'after the bound Keyport is asked again').to.equal(401);
    expect(calls()).to.equal(2);
  });

  it('makes one call for many concurrent requests with the same token', async () => {
    // Each request checks the JWT's signature (on libuv's pool) before it introspects, so on a busy
    // machine a fast answer could come back before the last request got that far, and that request
    // would rightly make a second call. The answer is held for 1 s here, so all ten are waiting for
    // the one call in flight, which is what this test is about.
    const proxy = await FaultProxy.start(fx.app.config.issuer);
    try {
      proxy.holdFor(1000);
      const verifier = createVerifier({
        issuer: fx.app.config.issuer, resource: API, audience: fx.app.config.issuer,
        introspection: { clientId: fx.apiClient.id, clientSecret: fx.apiClient.secret!, endpoint: `${proxy.url}/oauth/introspect`, cacheSeconds: 0, timeoutMs: 10_000 },
      });
      const { token } = await freshToken('concurrent');
      const before = keyportRequests(fx.app, '/oauth/introspect');
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => verifier.authenticate(`Bearer ${token}`, { introspect: true })));
      expect(outcomes.map(status)).to.deep.equal(Array(10).fill(200));
      expect(keyportRequests(fx.app, '/oauth/introspect') - before).to.equal(1);
      expect(proxy.requests).to.equal(1);
    } finally {
      await proxy.close();
    }
  });

  it('opens the circuit after consecutive failures: fast 503s without calling Keyport, then one probe, then closes', async () => {
    const proxy = await FaultProxy.start(fx.app.config.issuer);
    try {
      const verifier = createVerifier({
        issuer: fx.app.config.issuer, resource: API, audience: fx.app.config.issuer,
        introspection: { clientId: fx.apiClient.id, clientSecret: fx.apiClient.secret!, endpoint: `${proxy.url}/oauth/introspect`, cacheSeconds: 0, timeoutMs: 300, failureThreshold: 2, cooldownSeconds: 1 },
      });
      const route = verifier.requirement({ introspect: true });
      const { token } = await freshToken('breaker');
      expect(status(await verifier.authenticate(`Bearer ${token}`, route)), 'through the proxy').to.equal(200);

      proxy.stall();
      for (let i = 0; i < 2; i += 1) {
        const started = Date.now();
        const outcome = await verifier.authenticate(`Bearer ${token}`, route);
        expect(status(outcome)).to.equal(503);
        expect(Date.now() - started, 'bounded by the timeout').to.be.within(250, 2000);
      }
      expect(verifier.introspector!.breaker.state).to.equal('open');

      const requests = proxy.requests;
      const started = Date.now();
      const open = await verifier.authenticate(`Bearer ${token}`, route);
      expect(Date.now() - started, 'fails fast').to.be.below(100);
      expect(open.ok).to.equal(false);
      if (!open.ok) {
        expect(open.status).to.equal(503);
        expect(open.body).to.deep.equal({ error: 'temporarily_unavailable', error_description: 'Keyport introspection is failing; try again shortly.' });
        expect(open.headers['retry-after']).to.equal('1');
      }
      expect(proxy.requests, 'no call while open').to.equal(requests);
      expect(proxy.requests, 'both failed calls reached the stalled proxy').to.be.at.least(2);

      proxy.forward();
      await sleep(1050);
      expect(verifier.introspector!.breaker.state).to.equal('half-open');
      expect(status(await verifier.authenticate(`Bearer ${token}`, route)), 'the probe succeeds').to.equal(200);
      expect(verifier.introspector!.breaker.state).to.equal('closed');
      // Local verification never depended on introspection.
      expect(status(await verifier.authenticate(`Bearer ${token}`))).to.equal(200);
    } finally {
      await proxy.close();
    }
  });
});
