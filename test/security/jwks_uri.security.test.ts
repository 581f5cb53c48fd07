import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { ClientUrlPolicy } from '../../src/clients/url_policy.js';
import { loadConfig } from '../../src/config/config.js';
import { OAuthClient } from '../../src/db/entities/oauth_client.js';
import { guardedFetch, type Resolve } from '../../src/oidc/guarded_fetch.js';
import { adminCaller, type AdminSession } from '../admin/support.js';
import { expectError } from '../keys/helpers.js';
import { startOidcApp } from '../oidc/support.js';
import type { TestApp } from '../support/app.js';
import { runKeyportInProcess } from '../support/cli.js';

/** A key server on 127.0.0.1 that counts the requests it gets. */
async function keyServer(jwks: unknown): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const state = { hits: 0 };
  const server: Server = createServer((_req, res) => {
    state.hits += 1;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks`,
    get hits() { return state.hits; },
    close: () => new Promise((resolve) => { server.close(() => resolve()); }),
  };
}

/** A resolver that answers every name with these addresses (a public name pointing inside). */
function resolvingTo(...addresses: string[]): Resolve {
  return (_hostname, _options, callback) => callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
}

/**
 * Audit LOW: `jwks_uri` (CLI `--jwks-uri`, admin API) accepted `http://169.254.169.254/…`:
 * Keyport would fetch the cloud metadata service (or any internal host) when the client
 * authenticates. Only https to public addresses now, plain http to loopback only outside
 * production, private ranges only where CLIENT_URL_ALLOWED_CIDRS allows; names are resolved and
 * checked again when the engine fetches.
 */
describe('security: jwks_uri cannot point inside the network', () => {
  let app: TestApp;
  let admin: AdminSession;
  before(async () => {
    app = await startOidcApp();
    admin = await adminCaller(app);
  });
  after(async () => { await app.close(); });

  const clientCount = (): Promise<number> => app.services.database.dataSource.getRepository(OAuthClient).count();

  it('admin API: refuses metadata, private, link-local, unique-local and plain-http URLs, and credentials in the URL', async () => {
    const before = await clientCount();
    for (const uri of [
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'https://169.254.169.254/jwks',
      'https://10.0.0.8/jwks',
      'https://192.168.1.1/jwks',
      'https://100.64.0.1/jwks',
      'https://[fd00::1]/jwks',
      'https://[fe80::1]/jwks',
      'https://[::ffff:10.0.0.1]/jwks',
      'https://0.0.0.0/jwks',
      'http://keys.example.com/jwks',
      'https://user:secret@keys.example.com/jwks',
      'ftp://keys.example.com/jwks',
    ]) {
      const res = await admin.post('/admin/clients', { name: 'ssrf', grant_types: ['client_credentials'], jwks_uri: uri });
      expectError(res, 400, 'invalid_request');
      expect(res.body.error.message, uri).to.match(/JWKS URI .* (is not allowed|forbidden scheme)/);
    }
    expect(await clientCount()).to.equal(before);
    const ok = await admin.post('/admin/clients', { name: 'public keys', grant_types: ['client_credentials'], jwks_uri: 'https://keys.example.com/jwks' });
    expect(ok.status, ok.text).to.equal(201);
  });

  it('CLI: client:create --jwks-uri refuses the metadata address with a one-line error', async () => {
    const res = await runKeyportInProcess(['client:create', '--name', 'ssrf', '--grant', 'client_credentials', '--jwks-uri', 'http://169.254.169.254/latest/meta-data'], app.env);
    expect(res.code).to.equal(1);
    expect(res.stderr.trim().split('\n')).to.have.length(1);
    expect(res.stderr).to.match(/JWKS URI .* is not allowed: it must use https/);
  });

  it('outside production, plain http to this machine works end to end: the engine fetches through the guard', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const server = await keyServer({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] });
    try {
      const created = await admin.post('/admin/clients', { name: 'local keys', grant_types: ['client_credentials'], scopes: 'read', jwks_uri: server.url });
      expect(created.status, created.text).to.equal(201);
      const clientId = created.body.client_id as string;
      const assertion = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(clientId).setSubject(clientId)
        .setAudience(app.config.issuer).setJti(`j-${Date.now()}`).setIssuedAt().setExpirationTime('1m').sign(privateKey);
      const token = await app.http().post('/oauth/token').type('form').send({
        grant_type: 'client_credentials', scope: 'read', client_id: clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion,
      });
      expect(token.status, token.text).to.equal(200);
      expect(server.hits).to.equal(1);
    } finally {
      await server.close();
    }
  });

  it('a client row that already points inside (registered before this check) is refused when its keys are fetched', async () => {
    const created = await admin.post('/admin/clients', { name: 'old row', grant_types: ['client_credentials'], jwks_uri: 'https://keys.example.com/jwks' });
    const clientId = created.body.client_id as string;
    await app.services.database.dataSource.getRepository(OAuthClient).update({ id: clientId }, { jwksUri: 'https://10.255.255.1/jwks' });
    const started = Date.now();
    const res = await app.http().post('/oauth/token').type('form').send({
      grant_type: 'client_credentials', client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'e30.e30.sig',
    });
    expect(res.status).to.equal(401);
    expect(res.body.error).to.equal('invalid_client');
    // Refused before any connection attempt (a connect to an unroutable address would hang ~2.5 s).
    expect(Date.now() - started).to.be.below(2000);
  });
});

describe('security: the engine fetch guard resolves names itself', () => {
  let server: Awaited<ReturnType<typeof keyServer>>;
  before(async () => { server = await keyServer({ keys: [] }); });
  after(async () => { await server.close(); });

  const port = (): string => new URL(server.url).port;

  it('refuses a public-looking name that resolves to a private or metadata address, before connecting', async () => {
    const policy = new ClientUrlPolicy({ production: true, allowedCidrs: [] });
    for (const address of ['127.0.0.1', '169.254.169.254', '10.1.2.3', 'fd00::5']) {
      const fetch = guardedFetch(policy, resolvingTo(address));
      let error: Error | undefined;
      try { await fetch(`https://keys.example.com:${port()}/jwks`); } catch (err) { error = err as Error; }
      expect(error?.message, address).to.include(`resolves to ${address}`);
    }
    // One bad address among good ones is enough to refuse (no choosing the good one later).
    const mixed = guardedFetch(policy, resolvingTo('93.184.216.34', '10.0.0.1'));
    let error: Error | undefined;
    try { await mixed(`https://keys.example.com:${port()}/jwks`); } catch (err) { error = err as Error; }
    expect(error?.message).to.include('resolves to 10.0.0.1');
    expect(server.hits).to.equal(0);
  });

  it('fetches from a range the operator allows, and from loopback over http outside production', async () => {
    const allowed = guardedFetch(new ClientUrlPolicy({ production: false, allowedCidrs: ['127.0.0.0/8'] }), resolvingTo('127.0.0.1'));
    const res = await allowed(`http://keys.internal.example:${port()}/jwks`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ keys: [] });
    const production = guardedFetch(new ClientUrlPolicy({ production: true, allowedCidrs: ['127.0.0.0/8'] }), resolvingTo('127.0.0.1'));
    let error: Error | undefined;
    try { await production(`http://keys.internal.example:${port()}/jwks`); } catch (err) { error = err as Error; }
    expect(error?.message).to.include('must use https');
  });

  it('CLIENT_URL_ALLOWED_CIDRS is validated at start and lets registration accept that range only', () => {
    expect(() => loadConfig({ CLIENT_URL_ALLOWED_CIDRS: '10.0.0.0/33', KEYPORT_SECRET: 'x'.repeat(40), DATA_DIR: '/tmp' })).to.throw(/CLIENT_URL_ALLOWED_CIDRS: must list CIDR ranges/);
    const config = loadConfig({ CLIENT_URL_ALLOWED_CIDRS: '10.20.0.0/16, fd00:ab::/48', KEYPORT_SECRET: 'x'.repeat(40), DATA_DIR: '/tmp' });
    expect(config.clientUrlAllowedCidrs).to.deep.equal(['10.20.0.0/16', 'fd00:ab::/48']);
    const policy = new ClientUrlPolicy({ production: true, allowedCidrs: config.clientUrlAllowedCidrs });
    expect(policy.checkRegistration('https://10.20.3.4/jwks', 'JWKS URI')).to.equal('https://10.20.3.4/jwks');
    expect(policy.checkRegistration('https://[fd00:ab::9]/jwks', 'JWKS URI')).to.equal('https://[fd00:ab::9]/jwks');
    expect(() => policy.checkRegistration('https://10.21.0.1/jwks', 'JWKS URI')).to.throw(/private address/);
    expect(() => policy.checkRegistration('https://169.254.169.254/', 'JWKS URI')).to.throw(/linkLocal address/);
    expect(() => policy.checkRegistration('https://localhost/jwks', 'JWKS URI')).to.throw(/loopback address/);
  });
});
