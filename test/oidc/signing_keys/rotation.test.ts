import { expect } from 'chai';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { loadConfig } from '../../../src/config/config.js';
import { Database } from '../../../src/db/database.js';
import { SigningKey } from '../../../src/db/entities/signing_key.js';
import { deriveKey } from '../../../src/lib/crypto.js';
import { createLogger } from '../../../src/lib/logger.js';
import { keyRetentionSeconds } from '../../../src/oidc/policy.js';
import { SigningKeyStore } from '../../../src/oidc/signing_keys.js';
import { TEST_SECRET, startTestApp, type TestApp } from '../../support/app.js';
import { runKeyport } from '../../support/cli.js';
import { createScratchDatabase } from '../../support/database.js';
import { client, postForm, registerClient, startOidcApp, type RegisteredClient } from '../support.js';

describe('oidc: signing keys', () => {
  let app: TestApp;
  let service: RegisteredClient;
  before(async () => {
    app = await startOidcApp();
    service = await registerClient(app, { grantTypes: ['client_credentials'], scopes: ['read'] });
  });
  after(async () => { await app.close(); });

  async function issue(target: TestApp = app): Promise<string> {
    const config = await client.discovery(new URL(target.config.issuer), service.id, service.secret, undefined, { execute: [client.allowInsecureRequests] });
    return (await client.clientCredentialsGrant(config, { scope: 'read' })).access_token;
  }

  async function jwks(target: TestApp = app): Promise<Array<{ kid: string }>> {
    return (await target.http().get('/oauth/jwks').expect(200)).body.keys;
  }

  it('creates one key on first start and keeps it encrypted at rest', async () => {
    await app.services.oidc.ready();
    const rows = await app.services.database.dataSource.getRepository(SigningKey).find();
    expect(rows).to.have.length(1);
    expect(rows[0]!.id).to.equal('sig_initial');
    expect(rows[0]!.privateJwkSealed).not.to.include('"d"');
    expect(() => JSON.parse(rows[0]!.privateJwkSealed)).to.throw();
  });

  it('rotates: the new key signs, the old one stays published and its tokens stay valid', async () => {
    const before = await issue();
    const oldKid = decodeProtectedHeader(before).kid;
    const rotated = await app.services.oidc.rotateSigningKey();
    await app.services.oidc.host.reload();

    const keys = await jwks();
    expect(keys.map((key) => key.kid)).to.have.members([rotated.kid, oldKid]);
    expect(keys[0]!.kid, 'the signing key comes first').to.equal(rotated.kid);
    const after = await issue();
    expect(decodeProtectedHeader(after).kid).to.equal(rotated.kid);

    const set = createLocalJWKSet({ keys: keys as never });
    for (const token of [before, after]) await jwtVerify(token, set, { issuer: app.config.issuer });
    expect((await postForm(app, '/oauth/introspect', { token: before }, service)).body.active).to.equal(true);

    const audit = await app.services.audit.list({ targetType: 'signing_key' });
    expect(audit.map((event) => event.action)).to.include('signing_key.rotated');
  });

  it('rotates from the CLI; a running instance switches on its next reload', async () => {
    const res = await runKeyport(['signing-key:rotate', '--json'], app.env);
    expect(res.code, res.stderr).to.equal(0);
    const { key } = JSON.parse(res.stdout);
    expect(key).to.include({ alg: 'ES256', status: 'signing' });
    await app.services.oidc.host.reload();
    expect(decodeProtectedHeader(await issue()).kid).to.equal(key.kid);
    expect((await jwks()).map((entry) => entry.kid)).to.include(key.kid);
  });

  it('another instance accepts a token signed by a key it has not loaded yet', async () => {
    const second = await startTestApp({ database: app.database, env: { ISSUER: app.config.issuer } });
    try {
      await second.services.oidc.ready();
      await app.services.oidc.rotateSigningKey();
      await app.services.oidc.host.reload();
      const token = await issue();
      const verified = await second.services.oidc.accessTokens.verify(token);
      expect(verified?.clientId).to.equal(service.id);
      expect(second.services.oidc.host.keyRing.signingKid).to.equal(decodeProtectedHeader(token).kid);
    } finally {
      await second.running.close();
    }
  });

  it('drops a retired key from the JWKS once its tokens can no longer be alive', async () => {
    const token = await issue();
    const kid = decodeProtectedHeader(token).kid!;
    await app.services.oidc.rotateSigningKey();
    const long = new Date(Date.now() - (keyRetentionSeconds(app.config) + 60) * 1000);
    await app.services.database.dataSource.getRepository(SigningKey).update({ kid }, { retiredAt: long });
    await app.services.oidc.host.reload();
    expect((await jwks()).map((entry) => entry.kid)).not.to.include(kid);
    expect((await postForm(app, '/oauth/introspect', { token }, service)).body).to.deep.equal({ active: false });
  });

  it('refuses to start with a KEYPORT_SECRET that cannot decrypt the keys', async () => {
    let failure: unknown;
    const wrong = await startTestApp({ database: app.database, env: { ISSUER: app.config.issuer, KEYPORT_SECRET: 'another-secret-0123456789-abcdefghijklmnopqrstuv' } })
      .catch((err: unknown) => { failure = err; return undefined; });
    if (wrong) await wrong.running.close();
    expect(wrong, 'the server must not start').to.equal(undefined);
    expect(String(failure)).to.match(/cannot be decrypted: KEYPORT_SECRET differs/);
    expect(String(failure)).not.to.include('another-secret');
  });
});

describe('oidc: signing keys on a fresh database', () => {
  it('creates exactly one first key when two instances start together', async () => {
    const scratch = await createScratchDatabase({ schema: 'empty' });
    const config = loadConfig({ DATABASE_URL: scratch.url, DATA_DIR: scratch.dir, KEYPORT_SECRET: TEST_SECRET });
    const logger = createLogger('error');
    const first = await Database.open(config.database, logger);
    const second = await Database.open(config.database, logger, { migrate: false });
    try {
      const key = deriveKey(TEST_SECRET, 'signing-keys');
      const stores = [first, second, first, second].map((db) => new SigningKeyStore(db.dataSource, key, 3600));
      await Promise.all(stores.map((store) => store.ensureInitialKey()));
      expect(await first.dataSource.getRepository(SigningKey).count()).to.equal(1);
      const rings = await Promise.all(stores.map((store) => store.load()));
      expect(new Set(rings.map((ring) => ring.signingKid)).size).to.equal(1);
    } finally {
      await second.close();
      await first.close();
      await scratch.drop();
    }
  });
});
