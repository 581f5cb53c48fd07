import { expect } from 'chai';
import { runKeyportInProcess } from '../support/cli.js';
import type { TestApp } from '../support/app.js';
import { REDIRECT_URI } from '../oidc/support.js';
import { startMcpKeyport } from './support.js';

describe('mcp: CLI and admin API for clients without prior registration', function () {
  // The machine is shared.
  this.timeout(120_000);
  let app: TestApp;
  before(async () => { app = await startMcpKeyport({ env: { REGISTRATION_POLICY: 'initial-access-token' } }); });
  after(async () => { await app?.close(); });

  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return runKeyportInProcess(args, { ...app.env, REGISTRATION_POLICY: 'initial-access-token' });
  }

  it('client:registration-token issues an initial access token the registration endpoint accepts', async () => {
    const result = await cli(['client:registration-token', '--ttl', '1h', '--json']);
    expect(result.code, result.stderr).to.equal(0);
    const { initial_access_token: token, expires_at: expiresAt } = JSON.parse(result.stdout);
    expect(new Date(expiresAt).getTime() - Date.now()).to.be.within(3_500_000, 3_600_000);
    const registered = await app.http().post('/oauth/register').set('Authorization', `Bearer ${token}`).send({ client_name: 'CLI-made', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' });
    expect(registered.status, registered.text).to.equal(201);
    const listed = await cli(['client:list']);
    expect(listed.stdout).to.match(new RegExp(`${registered.body.client_id} .*CLI-made \\(registered dynamically, expires `));
    expect((await cli(['client:registration-token', '--ttl', '90d'])).code).to.equal(1);
  });

  it('client:block and client:unblock a metadata client; client:list shows it', async () => {
    const url = 'https://agents.example.com/mcp/client.json';
    const blocked = await cli(['client:block', url, '--json']);
    expect(blocked.code, blocked.stderr).to.equal(0);
    expect(JSON.parse(blocked.stdout).metadata_client).to.include({ client_id: url, host: 'agents.example.com', blocked: true });
    expect(await app.services.oidc.metadataDocuments.store.isBlocked(url)).to.equal(true);
    expect((await cli(['client:list'])).stdout).to.match(new RegExp(`${url.replaceAll('.', '\\.')} +agents\\.example\\.com .* blocked +\\(no name\\)`));
    expect((await cli(['client:unblock', url])).code).to.equal(0);
    expect(await app.services.oidc.metadataDocuments.store.isBlocked(url)).to.equal(false);
    expect((await cli(['client:unblock', 'https://never.example.com/c.json'])).code).to.equal(1);
    expect((await cli(['client:block', 'http://plain.example.com/c.json'])).code).to.equal(1);
  });

  it('resource:metadata prints the RFC 9728 document an MCP server should serve, and where', async () => {
    await app.services.oidc.resourceServers.create({ audience: 'https://mcp.example.com/mcp', format: 'jwt', scopes: ['mcp:tools', 'mcp:resources'] });
    const result = await cli(['resource:metadata', 'https://mcp.example.com/mcp']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.include('https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
    expect(JSON.parse(result.stdout)).to.deep.equal({
      resource: 'https://mcp.example.com/mcp',
      authorization_servers: [app.config.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:tools', 'mcp:resources'],
    });
    expect((await cli(['resource:metadata', 'https://unknown.example.com/'])).code).to.equal(1);
  });
});
