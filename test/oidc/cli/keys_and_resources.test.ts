import { expect } from 'chai';
import type { TestApp } from '../../support/app.js';
import { runKeyportInProcess } from '../../support/cli.js';
import { postForm, registerClient, startOidcApp } from '../support.js';

describe('oidc: keyport resource:* and signing-key:list', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp(); });
  after(async () => { await app.close(); });

  it('registers, lists and deletes a resource server that wants opaque tokens', async () => {
    const created = await runKeyportInProcess(['resource:create', '--audience', 'https://legacy.example.com', '--format', 'opaque', '--scopes', 'read', '--ttl', '15m', '--json'], app.env);
    expect(created.code, created.stderr).to.equal(0);
    expect(JSON.parse(created.stdout).resource_server).to.deep.equal({ audience: 'https://legacy.example.com', format: 'opaque', scope: 'read', access_token_ttl: 900 });

    const service = await registerClient(app, { grantTypes: ['client_credentials'], scopes: ['read', 'write'] });
    const token = await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read write', resource: 'https://legacy.example.com' }, service);
    expect(token.status, token.text).to.equal(200);
    expect(token.body).to.include({ expires_in: 900, scope: 'read' });
    expect(token.body.access_token).not.to.include('.');

    const listed = JSON.parse((await runKeyportInProcess(['resource:list', '--json'], app.env)).stdout).resource_servers;
    expect(listed.map((server: { audience: string }) => server.audience)).to.deep.equal([app.config.issuer, 'https://legacy.example.com']);
    expect(listed[0]).to.include({ default: true, format: 'jwt' });

    const deleted = await runKeyportInProcess(['resource:delete', 'https://legacy.example.com', '--json'], app.env);
    expect(deleted.code, deleted.stderr).to.equal(0);
    const gone = await runKeyportInProcess(['resource:delete', 'https://legacy.example.com'], app.env);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.match(/No resource server/);
  });

  const badInput: Array<[string[], RegExp]> = [
    [['resource:create', '--audience', 'not a uri'], /not an absolute URI/],
    [['resource:create', '--audience', 'https://a.example.com#x'], /fragment/],
    [['resource:create', '--audience', 'https://a.example.com', '--format', 'paseto'], /--format must be jwt or opaque/],
    [['resource:create', '--audience', 'https://a.example.com', '--ttl', 'soon'], /--ttl must be a duration/],
    [['resource:create', '--audience', 'https://a.example.com', '--ttl', '7d'], /TTL must be between/],
  ];
  for (const [args, message] of badInput) {
    it(`refuses \`keyport ${args.join(' ')}\``, async () => {
      const res = await runKeyportInProcess(args, app.env);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.match(message);
    });
  }

  it('refuses to register the issuer, the built-in default audience', async () => {
    const res = await runKeyportInProcess(['resource:create', '--audience', app.config.issuer], app.env);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.match(/built-in default audience/);
  });

  it('lists signing keys', async () => {
    await app.services.oidc.ready();
    const res = await runKeyportInProcess(['signing-key:list', '--json'], app.env);
    expect(res.code, res.stderr).to.equal(0);
    const { keys } = JSON.parse(res.stdout);
    expect(keys).to.have.length(1);
    expect(keys[0]).to.include({ id: 'sig_initial', alg: 'ES256', status: 'signing', retired_at: null });
  });
});
