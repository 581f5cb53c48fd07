import { expect } from 'chai';
import { ApiKey } from '../../src/db/entities/api_key.js';
import { API_KEY_PATTERN, ApiKeyHasher, displayPrefix, generateApiKey, isWellFormedApiKey } from '../../src/keys/key_material.js';
import { startTestApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { createAgentWithKey, dumpDatabase, secretTail } from './helpers.js';

describe('API keys: format and storage', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('mints ak_live_/ak_test_ + 32 alphanumerics from the CSPRNG, all distinct', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 5000; i += 1) keys.add(generateApiKey(i % 2 ? 'live' : 'test'));
    expect(keys.size).to.equal(5000);
    for (const key of [...keys].slice(0, 200)) {
      expect(key).to.match(/^ak_(live|test)_[A-Za-z0-9]{32}$/);
      expect(isWellFormedApiKey(key)).to.equal(true);
    }
    // Every character of the alphabet shows up: no hex or base64 shortcut slipped in.
    const alphabet = new Set([...keys].join('').replace(/ak_(live|test)_/g, ''));
    expect(alphabet.size).to.equal(62);
  });

  it('judges well-formedness strictly', () => {
    const good = generateApiKey('live');
    for (const bad of [good.slice(0, -1), `${good}x`, good.replace('ak_live_', 'ak_prod_'), good.replace('ak_', 'AK_'), `${good.slice(0, -1)}-`, ` ${good}`, `${good.slice(0, -1)}é`, '']) {
      expect(isWellFormedApiKey(bad), bad).to.equal(false);
      expect(API_KEY_PATTERN.test(bad), bad).to.equal(false);
    }
  });

  it('creates keys through the service with the documented shape and a 12-character prefix', async () => {
    const created = await createAgentWithKey(app, { env: 'test' });
    expect(created.apiKey).to.match(/^ak_test_[A-Za-z0-9]{32}$/);
    expect(created.key.id).to.match(/^key_[A-Za-z0-9]{20}$/);
    expect(created.agent.id).to.match(/^agent_[A-Za-z0-9]{20}$/);
    expect(created.key.prefix).to.equal(displayPrefix(created.apiKey)).and.have.length(12);
    expect(created.key.scopes).to.deep.equal(['read']);
    expect(created.key.accessType).to.equal('integrations');
    expect(created.key.env).to.equal('test');
    expect(created.key.status).to.equal('active');
  });

  it('stores only the keyed hash and the prefix: neither the key nor its secret part is anywhere in the database', async () => {
    const created = await createAgentWithKey(app, { scopes: 'read,write' });
    await app.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
    // Another last character (a fixed '0' was the key itself once in 62 runs).
    const wrong = `${created.apiKey.slice(0, -1)}${created.apiKey.endsWith('0') ? '1' : '0'}`;
    await app.http().get('/auth/test').set('X-API-Key', wrong).expect(401);
    await app.services.keys.usage.flush();
    await app.services.keys.failures.drain();
    const dump = await dumpDatabase(app);
    expect(dump).to.include(created.key.prefix);
    expect(dump).not.to.include(created.apiKey);
    expect(dump).not.to.include(secretTail(created.apiKey));
    expect(dump).not.to.include(created.apiKey.slice(-16));

    const row = await app.services.database.dataSource.getRepository(ApiKey).findOneByOrFail({ id: created.key.id });
    expect(row.hash).to.match(/^[0-9a-f]{64}$/);
    expect(row.hash).to.equal(new ApiKeyHasher(TEST_SECRET).hash(created.apiKey));
    // Peppered: another secret gives another hash, so the table alone cannot confirm a guess.
    expect(new ApiKeyHasher(`${TEST_SECRET}-other`).hash(created.apiKey)).not.to.equal(row.hash);
  });

  it('enforces a unique index on the hash', async () => {
    const created = await createAgentWithKey(app);
    const repo = app.services.database.dataSource.getRepository(ApiKey);
    const row = await repo.findOneByOrFail({ id: created.key.id });
    let failed = false;
    try {
      await repo.insert({ ...row, id: 'key_duplicatehash000000' });
    } catch {
      failed = true;
    }
    expect(failed, 'a second row with the same hash must be refused').to.equal(true);
  });
});
