import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/errors.js';
import { normalizeAllowList } from '../../src/keys/ip_allow_list.js';
import { KeyportError } from '../../src/lib/errors.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey, TEST_ACTOR } from './helpers.js';

async function refusal(promise: Promise<unknown>): Promise<KeyportError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(KeyportError);
    return err as KeyportError;
  }
  throw new Error('expected a refusal');
}

describe('API keys: access types and creation rules', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp({ env: { KEYPORT_EXTRA_SCOPES: 'billing, reports:export' } }); });
  after(async () => { await app.close(); });

  it('gives a key without scopes "read", as integrations, live, never expiring', async () => {
    const { key } = await createAgentWithKey(app);
    expect(key).to.deep.include({ scopes: ['read'], accessType: 'integrations', env: 'live', expiresAt: null, ipAllowList: null, rateLimit: null, name: 'default' });
  });

  it('lets admin keys hold every scope, including admin and configured extras', async () => {
    const { key } = await createAgentWithKey(app, { accessType: 'admin', scopes: 'admin,reports:export,read,write,delete,billing,read' });
    expect(key.scopes).to.deep.equal(['read', 'write', 'delete', 'admin', 'billing', 'reports:export']);
  });

  it('lets integrations keys hold read, write, delete and extras, never admin', async () => {
    const { key } = await createAgentWithKey(app, { scopes: ['delete', 'billing'] });
    expect(key.scopes).to.deep.equal(['delete', 'billing']);
    const err = await refusal(createAgentWithKey(app, { scopes: 'read,admin' }));
    expect(err.code).to.equal('invalid_request');
    expect(err.message).to.include('"integrations" may not hold scope "admin"');
  });

  it('lets transactional keys hold read and write only', async () => {
    const { key } = await createAgentWithKey(app, { accessType: 'transactional', scopes: 'write read' });
    expect(key.scopes).to.deep.equal(['read', 'write']);
    for (const scope of ['delete', 'admin', 'billing']) {
      const err = await refusal(createAgentWithKey(app, { accessType: 'transactional', scopes: [scope] }));
      expect(err.status).to.equal(400);
      expect(err.message).to.include(`"transactional" may not hold scope "${scope}"`);
    }
  });

  it('refuses unknown scopes, access types, envs and empty scope lists, creating nothing', async () => {
    const before = (await app.services.keys.agents.list({ limit: 1000 })).length;
    for (const [input, fragment] of [
      [{ scopes: 'read,fly' }, 'unknown scope "fly"'],
      [{ scopes: '' }, 'at least one scope'],
      [{ accessType: 'root' }, 'access type'],
      [{ env: 'prod' }, 'env'],
    ] as const) {
      const err = await refusal(createAgentWithKey(app, input));
      expect(err.code).to.equal('invalid_request');
      expect(err.message).to.include(fragment);
    }
    expect((await app.services.keys.agents.list({ limit: 1000 })).length, 'a refused key leaves no agent behind').to.equal(before);
  });

  it('validates expiry, allow list, rate limits, names and emails', async () => {
    const cases: Array<[Parameters<typeof createAgentWithKey>[1], string]> = [
      [{ expiresIn: '90 days' }, 'expires in'],
      [{ expiresIn: 0 }, 'expires in'],
      [{ expiresIn: '99999d' }, 'expires in'],
      [{ expiresAt: new Date(Date.now() - 1000) }, 'expires at'],
      [{ expiresIn: '1d', expiresAt: new Date(Date.now() + 5000) }, 'not both'],
      [{ ipAllowList: ['10.0.0.0/33'] }, 'ip allow list'],
      [{ ipAllowList: '10.0.0.1,banana' }, '"banana"'],
      [{ ipAllowList: ['127.1'] }, 'ip allow list'],
      [{ ipAllowList: ['::1/129'] }, 'ip allow list'],
      [{ rateLimit: { perMinute: 0 } }, 'rate limit per minute'],
      [{ rateLimit: { burst: 1.5 } }, 'rate limit burst'],
      [{ name: ' ' }, 'key name'],
      [{ name: 'x'.repeat(101) }, 'key name'],
      [{ contactEmail: 'not-an-email' }, 'contact email'],
    ];
    for (const [input, fragment] of cases) {
      const err = await refusal(createAgentWithKey(app, input));
      expect(err.code, JSON.stringify(input)).to.equal('invalid_request');
      expect(err.message, JSON.stringify(input)).to.include(fragment);
    }
    expect((await refusal(createAgentWithKey(app, {}, { contactEmail: 'nope' }))).message).to.include('contact email');
    expect((await refusal(app.services.keys.agents.create({ name: '' }, TEST_ACTOR))).message).to.include('agent name');
  });

  it('canonicalises allow lists and stores rate-limit overrides and expiry', async () => {
    const before = Date.now();
    const { key } = await createAgentWithKey(app, {
      expiresIn: '90d', ipAllowList: ' 10.1.2.3/8 , 2001:DB8:0::1, 192.168.0.7/32, 10.0.0.0/8 ', rateLimit: { perMinute: 5, burst: 2 },
    }, { contactEmail: 'team@example.com' });
    expect(key.ipAllowList).to.deep.equal(['10.0.0.0/8', '2001:db8::1', '192.168.0.7']);
    expect(key.rateLimit).to.deep.equal({ perMinute: 5, perHour: null, burst: 2 });
    expect(key.contactEmail, 'inherited from the agent').to.equal('team@example.com');
    expect(key.expiresAt!.getTime()).to.be.within(before + 90 * 86_400_000 - 2000, Date.now() + 90 * 86_400_000 + 2000);
    const stored = await app.services.keys.apiKeys.get(key.id);
    expect(stored.ipAllowList).to.deep.equal(key.ipAllowList);
    expect(stored.rateLimit).to.deep.equal(key.rateLimit);
    expect(normalizeAllowList('')).to.equal(null);
    expect(normalizeAllowList(['::ffff:10.0.0.1'])).to.deep.equal(['10.0.0.1']);
  });

  it('adds keys to an agent, refusing unknown and revoked agents', async () => {
    const { agent } = await createAgentWithKey(app);
    const second = await app.services.keys.apiKeys.create(agent.id, { name: 'second', env: 'test' }, TEST_ACTOR);
    expect(second.key.agentId).to.equal(agent.id);
    expect((await app.services.keys.apiKeys.list({ agentId: agent.id })).map((key) => key.id)).to.include(second.key.id).and.have.length(2);
    expect((await refusal(app.services.keys.apiKeys.create('agt_doesnotexist', {}, TEST_ACTOR))).code).to.equal('not_found');
    expect((await refusal(app.services.keys.apiKeys.create('../etc/passwd', {}, TEST_ACTOR))).code).to.equal('not_found');
    expect((await refusal(app.services.keys.apiKeys.list({ agentId: 'agt_nope' }))).code).to.equal('not_found');
    expect((await refusal(app.services.keys.apiKeys.get('key_nope'))).code).to.equal('not_found');
    await app.services.keys.agents.revoke(agent.id, TEST_ACTOR);
    expect((await refusal(app.services.keys.apiKeys.create(agent.id, {}, TEST_ACTOR))).code).to.equal('conflict');
  });
});

describe('KEYPORT_EXTRA_SCOPES', () => {
  const load = (value: string) => loadConfig({ KEYPORT_SECRET: 'x'.repeat(40), KEYPORT_EXTRA_SCOPES: value }, mkdtempSync(join(tmpdir(), 'kp-cfg-')));

  it('lists extra scopes, deduplicated', () => {
    expect(load('billing, reports:export,billing').extraScopes).to.deep.equal(['billing', 'reports:export']);
    expect(loadConfig({ KEYPORT_SECRET: 'x'.repeat(40) }, mkdtempSync(join(tmpdir(), 'kp-cfg-'))).extraScopes).to.deep.equal([]);
  });

  it('refuses malformed and built-in names with one line naming the variable', () => {
    for (const bad of ['Billing', 'two words', 'read', 'admin', '1st']) {
      let error: unknown;
      try { load(bad); } catch (err) { error = err; }
      expect(error, bad).to.be.instanceOf(ConfigError);
      expect((error as Error).message).to.match(/^KEYPORT_EXTRA_SCOPES: /);
    }
  });
});
