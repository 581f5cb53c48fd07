import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { completeLogin, FlowError, measureLogins, type AuthCodeSetup } from '../../bench/lib/auth_code.js';

const REDIRECT_URI = 'http://127.0.0.1/bench/callback';

// Scenario 8 is written against standard oidc-provider interaction behaviour; the engine's own
// development login and consent pages are that standard, so the flow is checked against them.
describe('bench authorization-code flow against stock oidc-provider pages', () => {
  let server: Server;
  let setup: AuthCodeSetup;
  let seenPasswords: string[];

  before(async () => {
    seenPasswords = [];
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const provider = new Provider(`http://127.0.0.1:${port}`, {
      clients: [{ client_id: 'web', client_secret: 'web-secret', redirect_uris: [REDIRECT_URI], id_token_signed_response_alg: 'ES256' }],
      jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig' }] },
      routes: { authorization: '/oauth/authorize', token: '/oauth/token' },
      pkce: { required: () => true },
      features: { devInteractions: { enabled: true } },
      cookies: { keys: ['bench-test-cookie-key'] },
      findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    });
    const handle = provider.callback();
    server.on('request', (req, res) => {
      // The dev login page accepts any password; record what the bench typed into it.
      if (req.method === 'POST' && req.url?.startsWith('/interaction/')) {
        let body = '';
        req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
        req.on('end', () => {
          const password = new URLSearchParams(body).get('password');
          if (password !== null) seenPasswords.push(password);
        });
      }
      void handle(req, res);
    });
    setup = { baseUrl: `http://127.0.0.1:${port}`, clientId: 'web', clientSecret: 'web-secret', redirectUri: REDIRECT_URI, scope: 'openid', email: 'bench@example.com', password: 'bench-password' };
  });
  after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));

  it('logs in through the login and consent pages and redeems the code', async () => {
    await completeLogin(setup);
    expect(seenPasswords).to.deep.equal(['bench-password']);
  });

  it('counts completed logins per second over a short run', async () => {
    const m = await measureLogins(setup, 2, 0.5, 0);
    expect(m.completed).to.be.greaterThan(0);
    expect(m.errors).to.equal(0);
    expect(m.perSecond).to.be.greaterThan(0);
    expect(m.p99Ms).to.be.at.least(m.p50Ms);
  });

  it('reports the failing step when the flow cannot complete', async () => {
    const err = await completeLogin({ ...setup, clientId: 'no-such-client' }).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(FlowError);
    expect((err as Error).message).to.match(/GET \/oauth\/authorize → 400/);
  });
});
