import { expect } from 'chai';
import type supertest from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentInPage, createUser, csrfOf, decodeEntities, expectPage, fieldError, keyForm, postForm, signIn, type FormFields } from './helpers.js';

/** Bad input on every field of every form: a 400 page with the message beside the field, the typed values kept, nothing saved. */
describe('dashboard: refused form input', () => {
  let app: TestApp;
  let agent: supertest.Agent;
  let csrf: string;
  let agentId: string;
  before(async () => {
    app = await startTestApp({ env: { KEYPORT_EXTRA_SCOPES: 'billing' } });
    agent = await signIn(app, await createUser(app));
    csrf = await csrfOf(agent);
    agentId = await createAgentInPage(agent, csrf, 'form-target', 'team@example.com');
  });
  after(async () => { await app.close(); });

  const keyCount = async () => (await app.services.keys.apiKeys.list({ limit: 1000 })).length;

  describe('new API key', () => {
    const cases: Array<{ what: string; fields: FormFields; id: string; message: string; kept?: string }> = [
      { what: 'an empty nickname', fields: { name: '' }, id: 'key-name', message: 'Must not be empty.' },
      { what: 'a nickname over 100 characters', fields: { name: 'n'.repeat(101) }, id: 'key-name', message: 'At most 100 characters.', kept: 'n'.repeat(101) },
      { what: 'a nickname with a control character', fields: { name: 'tab\there' }, id: 'key-name', message: 'Must not contain control characters.' },
      { what: 'a contact that is not an email', fields: { contact_email: 'ops at example' }, id: 'key-contact', message: '"ops at example" is not an email address.', kept: 'ops at example' },
      { what: 'an unknown access type', fields: { access_type: 'superuser' }, id: 'access-type', message: 'Must be one of admin, integrations, transactional, got "superuser".' },
      { what: 'no scope ticked', fields: { scopes: [] }, id: 'scopes', message: 'Give at least one scope' },
      { what: 'an unknown scope', fields: { scopes: ['read', 'launch'] }, id: 'scopes', message: 'Unknown scope "launch"; known scopes: read, write, delete, admin, billing.' },
      { what: 'a scope the access type may not hold', fields: { access_type: 'transactional', scopes: ['read', 'delete'] }, id: 'scopes', message: 'Access type "transactional" may not hold scope "delete"; it may hold: read, write.' },
      { what: 'admin scope on an integrations key', fields: { scopes: ['admin'] }, id: 'scopes', message: 'Access type "integrations" may not hold scope "admin"' },
      { what: 'an unknown environment', fields: { env: 'prod' }, id: 'env', message: 'Must be one of live, test, got "prod".' },
      { what: 'an expiry that is not a duration', fields: { expires_in: 'soon' }, id: 'key-expires', message: '"soon" is not a duration such as 90d, 24h, 30m, 45s or a number of seconds.', kept: 'soon' },
      { what: 'an expiry of more than ten years', fields: { expires_in: '4000d' }, id: 'key-expires', message: 'Must be between 1 s and 3650 days.' },
      { what: 'a bad address in the allow list', fields: { ip_allow_list: '10.0.0.0/8\n300.1.2.3' }, id: 'key-allow-list', message: '"300.1.2.3" is not an IPv4/IPv6 address or CIDR range.', kept: '10.0.0.0/8\n300.1.2.3' },
      { what: 'a CIDR with too many bits', fields: { ip_allow_list: '2001:db8::/129' }, id: 'key-allow-list', message: '"2001:db8::/129" is not an IPv4/IPv6 address or CIDR range.' },
      { what: 'a per-minute limit that is not a number', fields: { rate_limit_per_minute: 'lots' }, id: 'key-rl-minute', message: 'Must be a whole number between 1 and 10000000, got "lots".', kept: 'lots' },
      { what: 'a per-hour limit of zero', fields: { rate_limit_per_hour: '0' }, id: 'key-rl-hour', message: 'Must be a whole number between 1 and 100000000, got 0.' },
      { what: 'a negative burst', fields: { rate_limit_burst: '-5' }, id: 'key-rl-burst', message: 'Must be a whole number between 1 and 10000000, got -5.' },
      { what: 'a fractional burst', fields: { rate_limit_burst: '2.5' }, id: 'key-rl-burst', message: 'got "2.5"' },
    ];

    for (const { what, fields, id, message, kept } of cases) {
      it(`refuses ${what}: message next to the field, values kept, no key`, async () => {
        const before = await keyCount();
        const res = await postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf, { name: 'kept name', ...fields }));
        expectPage(res, 400);
        expect(fieldError(res.text, id), res.text.slice(res.text.indexOf('<form'), res.text.indexOf('<form') + 200)).to.include(message);
        expect(res.text).to.include('The key was not created');
        if (kept !== undefined) expect(decodeEntities(res.text)).to.include(kept);
        if (fields.name === undefined) expect(res.text).to.include('value="kept name"');
        // The field is marked for assistive technology too.
        expect(res.text).to.match(new RegExp(`aria-describedby="[^"]*${id}-error`));
        expect(await keyCount()).to.equal(before);
        expect(res.text).not.to.match(/ak_(live|test)_[A-Za-z0-9]{32}/);
      });
    }

    it('names every wrong field at once and keeps the ticked boxes', async () => {
      const before = await keyCount();
      const res = await postForm(agent, `/dashboard/agents/${agentId}/keys`, keyForm(csrf, {
        name: '', contact_email: 'nope', scopes: ['write', 'billing', 'admin'], env: 'test', expires_in: 'x', ip_allow_list: 'garbage', rate_limit_per_minute: 'y',
      }));
      expectPage(res, 400);
      for (const id of ['key-name', 'key-contact', 'scopes', 'key-expires', 'key-allow-list', 'key-rl-minute']) expect(fieldError(res.text, id), id).to.be.a('string');
      expect(fieldError(res.text, 'env')).to.equal(undefined);
      expect(res.text).to.include('6 fields need a change');
      expect(res.text).to.include('value="write" checked').and.include('value="billing" checked').and.include('value="test" checked');
      expect(res.text).not.to.include('value="read" checked');
      expect(await keyCount()).to.equal(before);
    });

    it('answers a malformed body (unknown field, nested value) with a 400 page and saves nothing', async () => {
      const before = await keyCount();
      for (const body of [`${new URLSearchParams(keyForm(csrf) as Record<string, string>)}&is_admin=1`, `csrf=${csrf}&name[a]=b`]) {
        const res = await agent.post(`/dashboard/agents/${agentId}/keys`).type('form').send(body);
        expectPage(res, 400);
        expect(res.text).to.include('invalid_request');
      }
      expect(await keyCount()).to.equal(before);
    });

    it('answers an unknown agent with a 404 page and a revoked one with a 409 page', async () => {
      for (const path of ['/dashboard/agents/agt_doesnotexist/keys/new', '/dashboard/agents/not-an-id/keys/new']) {
        const res = await agent.get(path);
        expectPage(res, 404);
        expect(res.text).to.include('No agent with id');
      }
      const revoked = await createAgentInPage(agent, csrf, 'gone');
      await app.services.keys.agents.revoke(revoked, { actor: 'test' });
      expectPage(await agent.get(`/dashboard/agents/${revoked}/keys/new`), 409);
      const before = await keyCount();
      const res = await postForm(agent, `/dashboard/agents/${revoked}/keys`, keyForm(csrf));
      expectPage(res, 409);
      expect(res.text).to.include('is revoked; it cannot get new keys');
      expect(await keyCount()).to.equal(before);
    });
  });

  describe('new agent', () => {
    it('refuses an empty name and a bad contact at once, keeps the values, creates nothing', async () => {
      const before = (await app.services.keys.agents.list()).length;
      const res = await postForm(agent, '/dashboard/agents', { csrf, name: '   ', contact_email: 'not@an@email' });
      expectPage(res, 400);
      expect(fieldError(res.text, 'agent-name')).to.equal('Must not be empty.');
      expect(fieldError(res.text, 'agent-contact')).to.equal('"not@an@email" is not an email address.');
      expect(res.text).to.include('value="not@an@email"');
      expect(await app.services.keys.agents.list()).to.have.length(before);
    });

    it('refuses a name over 100 characters', async () => {
      const before = (await app.services.keys.agents.list()).length;
      const res = await postForm(agent, '/dashboard/agents', { csrf, name: 'a'.repeat(101) });
      expectPage(res, 400);
      expect(fieldError(res.text, 'agent-name')).to.equal('At most 100 characters.');
      expect(fieldError(res.text, 'agent-contact')).to.equal(undefined);
      expect(await app.services.keys.agents.list()).to.have.length(before);
    });
  });

  describe('new OAuth client', () => {
    const cases: Array<{ what: string; fields: FormFields; id: string; message: string }> = [
      { what: 'an empty name', fields: { name: ' ' }, id: 'client-name', message: 'The client name must be 1 to 128 characters.' },
      { what: 'no grant type', fields: { grant_types: [] }, id: 'grant-types', message: 'At least one grant type is required.' },
      { what: 'an unknown grant type', fields: { grant_types: ['password'] }, id: 'grant-types', message: 'Unknown grant type "password"' },
      { what: 'authorization_code without a redirect URI', fields: { grant_types: ['authorization_code'] }, id: 'client-redirects', message: 'The authorization_code grant needs at least one redirect URI.' },
      { what: 'a redirect URI that is not absolute', fields: { grant_types: ['authorization_code'], redirect_uris: 'callback' }, id: 'client-redirects', message: 'redirect URI "callback" is not an absolute URI.' },
      { what: 'a redirect URI without the code grant', fields: { redirect_uris: 'https://app.example/cb' }, id: 'client-redirects', message: 'redirect URI only applies to the authorization_code grant.' },
      { what: 'a public client with client credentials', fields: { public: '1' }, id: 'public', message: 'A public client cannot use client_credentials' },
      { what: 'a malformed scope', fields: { scopes: 'read Bad"Scope' }, id: 'client-scopes', message: 'Invalid scope' },
    ];
    for (const { what, fields, id, message } of cases) {
      it(`refuses ${what}`, async () => {
        const before = (await app.services.oidc.clients.list()).length;
        const res = await postForm(agent, '/dashboard/clients', { csrf, name: 'Reporting', grant_types: ['client_credentials'], redirect_uris: '', scopes: '', ...fields });
        expectPage(res, 400);
        expect(fieldError(res.text, id)).to.include(message);
        expect(res.text).to.include('The client was not created');
        expect(await app.services.oidc.clients.list()).to.have.length(before);
      });
    }
  });

  describe('rotation, revocation and lookups', () => {
    it('refuses a grace period that is not a duration or too long, and rotates nothing', async () => {
      const { key } = await app.services.keys.apiKeys.create(agentId, {}, { actor: 'test' });
      for (const [grace, message] of [['forever', '"forever" is not a duration'], ['90d', 'Must be between 0 s and 30 days'], ['-1', 'is not a duration']] as const) {
        const res = await postForm(agent, `/dashboard/keys/${key.id}/rotate`, { csrf, grace });
        expectPage(res, 400);
        expect(decodeEntities(res.text), grace).to.include(message.replace('Must', 'must'));
        expect(res.text).to.include(`value="24h"`);
      }
      expect((await app.services.keys.apiKeys.get(key.id)).replacedBy).to.equal(null);
    });

    it('refuses to rotate a revoked key (409 page)', async () => {
      const { key } = await app.services.keys.apiKeys.create(agentId, {}, { actor: 'test' });
      await app.services.keys.apiKeys.revoke(key.id, { actor: 'test' });
      const res = await postForm(agent, `/dashboard/keys/${key.id}/rotate`, { csrf, grace: '0' });
      expectPage(res, 409);
      expect(res.text).to.include('only an active key can be rotated');
    });

    it('does not revoke without the confirmation step', async () => {
      const { key } = await app.services.keys.apiKeys.create(agentId, {}, { actor: 'test' });
      const res = await postForm(agent, `/dashboard/keys/${key.id}/revoke`, { csrf }).expect(303);
      expect(res.headers.location).to.equal(`/dashboard/keys/${key.id}/revoke`);
      expect((await app.services.keys.apiKeys.get(key.id)).status).to.equal('active');
      const wrong = await postForm(agent, `/dashboard/keys/${key.id}/revoke`, { csrf, confirm: 'no' });
      expectPage(wrong, 400);
      expect((await app.services.keys.apiKeys.get(key.id)).status).to.equal('active');
    });

    it('answers unknown keys and clients with 404 pages', async () => {
      for (const path of ['/dashboard/keys/key_nope', '/dashboard/keys/key_nope/rotate', '/dashboard/keys/%3Cscript%3E/revoke', '/dashboard/clients/cli_nope/delete', '/dashboard/agents/agt_nope']) {
        const res = await agent.get(path);
        expectPage(res, 404);
        expect(res.text).not.to.include('<script>');
      }
      const res = await postForm(agent, '/dashboard/clients/cli_nope/delete', { csrf, confirm: 'yes' });
      expectPage(res, 404);
    });
  });
});
