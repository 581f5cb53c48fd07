import { expect } from 'chai';
import { OAuthClient } from '../../../src/db/entities/oauth_client.js';
import type { TestApp } from '../../support/app.js';
import { runKeyport, runKeyportInProcess } from '../../support/cli.js';
import { client, postForm, startOidcApp } from '../support.js';

// Commands run in the CLI worker (test/support/cli.ts); client:delete, whose effect on the running
// server is checked at once, runs as a child process, as an operator's would.
describe('oidc: keyport client:create / client:list / client:delete', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp(); });
  after(async () => { await app.close(); });

  it('creates a confidential client, prints the secret once, and the secret works at the token endpoint', async () => {
    const res = await runKeyportInProcess(['client:create', '--name', 'Billing', '--grant', 'client_credentials', '--scopes', 'read,write', '--json'], app.env);
    expect(res.code, res.stderr).to.equal(0);
    const created = JSON.parse(res.stdout);
    expect(created.client_id).to.match(/^cli_[A-Za-z0-9]{20}$/);
    expect(created.client_secret).to.be.a('string').with.length.above(40);
    expect(created).to.include({ client_name: 'Billing', scope: 'read write', token_endpoint_auth_method: 'client_secret_basic', public: false });
    expect(created.grant_types).to.deep.equal(['client_credentials']);

    const token = await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'write' }, { id: created.client_id, secret: created.client_secret });
    expect(token.status, token.text).to.equal(200);
    expect(token.body.scope).to.equal('write');
  });

  it('keeps the secret unrecoverable: only a keyed hash in the database, nothing in audit or logs', async () => {
    const res = await runKeyportInProcess(['client:create', '--name', 'Vault', '--grant', 'client_credentials', '--json'], app.env);
    const { client_id: id, client_secret: secret } = JSON.parse(res.stdout);
    const row = await app.services.database.dataSource.getRepository(OAuthClient).findOneByOrFail({ id });
    expect(row.secretHash).to.match(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.to.include(secret);
    const tables = ['oauth_clients', 'audit_events', 'oidc_payloads'];
    for (const table of tables) {
      const rows = await app.services.database.dataSource.query(`SELECT * FROM ${table}`);
      expect(JSON.stringify(rows), table).not.to.include(secret);
    }
    await postForm(app, '/oauth/token', { grant_type: 'client_credentials', client_id: id, client_secret: secret }).expect(200);
    expect(app.logs.join('\n')).not.to.include(secret);
    const listed = await runKeyportInProcess(['client:list', '--json'], app.env);
    expect(listed.stdout).not.to.include(secret);
    expect(listed.stdout).not.to.include(row.secretHash!);
  });

  it('creates a public authorization-code client without a secret', async () => {
    const res = await runKeyportInProcess(['client:create', '--name', 'SPA', '--grant', 'authorization_code,refresh_token', '--redirect-uri', 'https://spa.example.com/cb', '--redirect-uri', 'https://spa.example.com/cb2', '--public', '--json'], app.env);
    expect(res.code, res.stderr).to.equal(0);
    const created = JSON.parse(res.stdout);
    expect(created).not.to.have.property('client_secret');
    expect(created).to.include({ token_endpoint_auth_method: 'none', public: true, scope: 'openid email read offline_access' });
    expect(created.redirect_uris).to.deep.equal(['https://spa.example.com/cb', 'https://spa.example.com/cb2']);
  });

  it('stores token_exchange and keeps the client usable while the engine does not know that grant yet', async () => {
    const res = await runKeyportInProcess(['client:create', '--name', 'Agent gateway', '--grant', 'client_credentials', '--grant', 'token_exchange', '--json'], app.env);
    expect(res.code, res.stderr).to.equal(0);
    const created = JSON.parse(res.stdout);
    expect(created.grant_types).to.deep.equal(['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange']);
    await postForm(app, '/oauth/token', { grant_type: 'client_credentials' }, { id: created.client_id, secret: created.client_secret }).expect(200);
  });

  it('lists clients as one JSON object and in human form', async () => {
    const json = await runKeyportInProcess(['client:list', '--json'], app.env);
    expect(json.code).to.equal(0);
    const { clients } = JSON.parse(json.stdout);
    expect(clients.map((entry: { client_name: string }) => entry.client_name)).to.include.members(['Billing', 'SPA']);
    const human = await runKeyportInProcess(['client:list'], app.env);
    expect(human.stdout).to.include('Billing');
  });

  it('deletes a client: its tokens and its credentials stop working', async () => {
    const created = JSON.parse((await runKeyportInProcess(['client:create', '--name', 'Doomed', '--grant', 'client_credentials', '--json'], app.env)).stdout);
    const config = await client.discovery(new URL(app.config.issuer), created.client_id, created.client_secret, undefined, { execute: [client.allowInsecureRequests] });
    const { access_token: token } = await client.clientCredentialsGrant(config, {});
    const res = await runKeyport(['client:delete', created.client_id, '--json'], app.env);
    expect(res.code, res.stderr).to.equal(0);
    expect(JSON.parse(res.stdout)).to.deep.equal({ deleted: created.client_id });
    expect(await app.services.oidc.accessTokens.verify(token)).to.equal(undefined);
    const again = await postForm(app, '/oauth/token', { grant_type: 'client_credentials' }, { id: created.client_id, secret: created.client_secret });
    expect(again.status).to.equal(401);
    const actions = (await app.services.audit.list({ targetId: created.client_id })).map((event) => event.action);
    expect(actions).to.include.members(['client.created', 'client.deleted']);
  });

  const badInput: Array<[string[], RegExp]> = [
    [['client:create', '--name', 'X', '--grant', 'password'], /Unknown grant type "password"/],
    [['client:create', '--name', 'X', '--grant', 'authorization_code'], /needs at least one --redirect-uri/],
    [['client:create', '--name', 'X', '--grant', 'authorization_code', '--redirect-uri', 'not a uri'], /not an absolute URI/],
    [['client:create', '--name', 'X', '--grant', 'authorization_code', '--redirect-uri', 'https://a.example.com/cb#frag'], /fragment/],
    [['client:create', '--name', 'X', '--grant', 'client_credentials', '--public'], /public client cannot use client_credentials/],
    [['client:create', '--name', 'X', '--grant', 'client_credentials', '--scopes', 'bad"scope'], /Invalid scope/],
    [['client:create', '--grant', 'client_credentials'], /required option '--name/],
    [['client:delete', 'cli_nosuchclient'], /No client with id/],
  ];
  for (const [args, message] of badInput) {
    it(`refuses \`keyport ${args.join(' ')}\` with one line and a non-zero exit code`, async () => {
      const res = await runKeyportInProcess(args, app.env);
      expect(res.code).to.not.equal(0);
      expect(res.stderr).to.match(message);
      expect(res.stderr.trim().split('\n').filter((line) => !line.startsWith('(run with')).length, res.stderr).to.equal(1);
    });
  }
});
