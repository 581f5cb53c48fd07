import { expect } from 'chai';
import { SignJWT, generateKeyPair } from 'jose';
import type { Response } from 'supertest';
import { AuditEvent } from '../../src/db/entities/audit_event.js';
import type { TestApp } from '../support/app.js';
import { codeFlow, createUser, registerClient, REDIRECT_URI, startOidcApp } from '../oidc/support.js';
import { createAgentWithKey } from '../keys/helpers.js';
import { adminCaller, callerWith, claimsOf, clientCredentialsToken, expectError, registerServiceClient, signWithServerKey } from './support.js';

/** Every admin endpoint, with a body that would be valid. */
const ENDPOINTS: ReadonlyArray<[method: 'get' | 'post' | 'delete', path: string, body?: object]> = [
  ['get', '/admin/agents'],
  ['post', '/admin/agents', { name: 'x' }],
  ['get', '/admin/agents/agt_unknown'],
  ['post', '/admin/agents/agt_unknown/revoke'],
  ['get', '/admin/keys'],
  ['post', '/admin/keys', { agent_id: 'agt_unknown' }],
  ['get', '/admin/keys/key_unknown'],
  ['post', '/admin/keys/key_unknown/rotate', { grace: '1h' }],
  ['post', '/admin/keys/key_unknown/revoke'],
  ['delete', '/admin/keys/key_unknown'],
  ['get', '/admin/clients'],
  ['post', '/admin/clients', { name: 'x', grant_types: ['client_credentials'] }],
  ['get', '/admin/clients/cli_unknown'],
  ['post', '/admin/clients/cli_unknown/rotate'],
  ['post', '/admin/clients/cli_unknown/revoke'],
  ['delete', '/admin/clients/cli_unknown'],
];

function call(app: TestApp, [method, path, body]: (typeof ENDPOINTS)[number], headers: Record<string, string>) {
  let request = app.http()[method](path);
  for (const [name, value] of Object.entries(headers)) request = request.set(name, value);
  return body ? request.send(body) : request;
}

function expectChallenge(res: Response, challenge: string): void {
  expect(res.headers['www-authenticate'], JSON.stringify(res.body)).to.equal(challenge);
  expect(res.headers['cache-control']).to.equal('no-store');
}

const INVALID = 'Bearer error="invalid_token"';
const INSUFFICIENT = 'Bearer error="insufficient_scope", scope="admin"';

describe('admin API: bearer-token authentication (docs/reference.md §7)', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp(); });
  after(async () => { await app.close(); });

  it('answers 401 unauthorized with a Bearer challenge on every endpoint when no token is sent, and changes nothing', async () => {
    for (const endpoint of ENDPOINTS) {
      const headerSets: Array<Record<string, string>> = [{}, { Authorization: 'Basic YWRtaW46YWRtaW4=' }, { Authorization: 'Token abc' }];
      for (const headers of headerSets) {
        const res = await call(app, endpoint, headers);
        expectError(res, 401, 'unauthorized');
        expectChallenge(res, 'Bearer realm="keyport"');
      }
    }
    expect(await app.services.keys.agents.list()).to.have.length(0);
  });

  it('answers 401 invalid_token for garbage, malformed and foreign-signed tokens', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const real = (await adminCaller(app)).token;
    const foreign = await new SignJWT(claimsOf(real)).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'other' }).sign(privateKey);
    const tampered = `${real.split('.').slice(0, 2).join('.')}.${Buffer.from('x'.repeat(64)).toString('base64url')}`;
    const noneAlg = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${real.split('.')[1]}.`;
    const values = ['garbage', 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA', 'a'.repeat(40), foreign, tampered, noneAlg, 'two words', 'x'.repeat(9000), '"quoted"', ''];
    for (const endpoint of ENDPOINTS) {
      for (const value of values) {
        const res = await call(app, endpoint, { Authorization: `Bearer ${value}` });
        expectError(res, 401, 'invalid_token');
        expectChallenge(res, INVALID);
      }
    }
  });

  it('refuses API keys, even admin ones, whether as a bearer credential or in X-API-Key', async () => {
    const { apiKey } = await createAgentWithKey(app, { accessType: 'admin', scopes: 'admin,read' });
    const bearer = await app.http().get('/admin/agents').set('Authorization', `Bearer ${apiKey}`);
    expectError(bearer, 401, 'invalid_token');
    expectChallenge(bearer, INVALID);
    expect(bearer.body.error.message).to.match(/API keys are not accepted/);

    const header = await app.http().get('/admin/agents').set('X-API-Key', apiKey);
    expectError(header, 401, 'unauthorized');
    expectChallenge(header, 'Bearer realm="keyport"');

    const body = await app.http().post('/admin/agents').send({ name: 'sneaky', api_key: apiKey });
    expectError(body, 401, 'unauthorized');
    expect(await app.services.keys.agents.list()).to.have.length(1);
  });

  it('accepts a client-credentials token with the admin scope', async () => {
    const admin = await adminCaller(app);
    const res = await admin.get('/admin/agents').expect(200);
    expect(res.body).to.have.property('agents').that.is.an('array');
    expect(res.headers['cache-control']).to.equal('no-store');
    // The scheme is case-insensitive (RFC 7235).
    await app.http().get('/admin/agents').set('Authorization', `bearer ${admin.token}`).expect(200);
  });

  it('answers 401 invalid_token for an expired token (and the same claims unexpired pass: the signature is sound)', async () => {
    const { token } = await adminCaller(app);
    const claims = claimsOf(token);
    const now = Math.floor(Date.now() / 1000);
    const fresh = await signWithServerKey(app, { ...claims, jti: `${claims.jti}-b`, iat: now - 10, exp: now + 600 });
    await callerWith(app, fresh).get('/admin/agents').expect(200);
    const expired = await signWithServerKey(app, { ...claims, jti: `${claims.jti}-c`, iat: now - 3600, exp: now - 60 });
    const res = await callerWith(app, expired).get('/admin/agents');
    expectError(res, 401, 'invalid_token');
    expectChallenge(res, INVALID);
  });

  it('answers 401 invalid_token once the token is revoked at /oauth/revoke', async () => {
    const admin = await adminCaller(app);
    await admin.get('/admin/keys').expect(200);
    await app.http().post('/oauth/revoke').type('form').auth(admin.client.id, admin.client.secret).send({ token: admin.token }).expect(200);
    const res = await admin.get('/admin/keys');
    expectError(res, 401, 'invalid_token');
    expectChallenge(res, INVALID);
  });

  it('answers 401 invalid_token once the token\'s client is deleted', async () => {
    const admin = await adminCaller(app);
    const other = await adminCaller(app);
    await admin.get('/admin/clients').expect(200);
    await other.delete(`/admin/clients/${admin.client.id}`).expect(200);
    expectError(await admin.get('/admin/clients'), 401, 'invalid_token');
    await other.get('/admin/clients').expect(200);
  });

  it('answers 403 insufficient_scope for a valid token without the admin scope', async () => {
    const reader = await registerServiceClient(app, ['read', 'write']);
    const token = await clientCredentialsToken(app, reader, 'read write');
    // A client that may hold admin but asked for less.
    const modest = await registerServiceClient(app, ['admin', 'read']);
    const narrow = await clientCredentialsToken(app, modest, 'read');
    for (const value of [token, narrow]) {
      for (const endpoint of ENDPOINTS) {
        const res = await call(app, endpoint, { Authorization: `Bearer ${value}` });
        expectError(res, 403, 'insufficient_scope');
        expectChallenge(res, INSUFFICIENT);
      }
    }
  });

  it('refuses an admin-scoped token minted for another resource server', async () => {
    await app.services.oidc.resourceServers.create({ audience: 'https://api.example.com/', format: 'jwt' });
    const client = await registerServiceClient(app, ['admin']);
    const token = await clientCredentialsToken(app, client, 'admin', { resource: 'https://api.example.com/' });
    expect(claimsOf(token).aud).to.equal('https://api.example.com/');
    const res = await callerWith(app, token).get('/admin/agents');
    expectError(res, 401, 'invalid_token');
    expectChallenge(res, INVALID);
  });

  it('refuses tokens minted from API keys whose access type is not admin, even with the admin scope', async () => {
    // Through the real token endpoint: a token that carries access_type like the exchange's tokens do.
    const client = await registerServiceClient(app, ['admin']);
    app.services.oidc.addExtraTokenClaims((_ctx, token) => ((token as { clientId?: string }).clientId === client.id ? { access_type: 'integrations' } : undefined));
    const token = await clientCredentialsToken(app, client);
    expect(claimsOf(token).access_type).to.equal('integrations');
    const res = await callerWith(app, token).get('/admin/agents');
    expectError(res, 403, 'insufficient_scope');
    expectChallenge(res, INSUFFICIENT);

    // As the API-key exchange will mint them: subject the agent, client keyport-api-key.
    const created = await createAgentWithKey(app, { accessType: 'admin', scopes: 'admin' });
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: app.config.issuer, aud: app.config.issuer, sub: created.agent.id, client_id: 'keyport-api-key', scope: 'admin', iat: now, exp: now + 600, api_key_id: created.key.id };
    for (const accessType of ['integrations', 'transactional', undefined]) {
      const forged = await signWithServerKey(app, { ...base, jti: `jti-${accessType}`, ...(accessType ? { access_type: accessType } : {}) });
      const refused = await callerWith(app, forged).get('/admin/agents');
      expectError(refused, 403, 'insufficient_scope');
    }
  });

  it('accepts a token from an admin API key and records the agent as the actor', async () => {
    const created = await createAgentWithKey(app, { accessType: 'admin', scopes: 'admin' });
    const now = Math.floor(Date.now() / 1000);
    const token = await signWithServerKey(app, {
      iss: app.config.issuer, aud: app.config.issuer, sub: created.agent.id, client_id: 'keyport-api-key', scope: 'admin read',
      iat: now, exp: now + 600, jti: 'agent-token', access_type: 'admin', api_key_id: created.key.id,
    });
    const res = await callerWith(app, token).post('/admin/agents', { name: 'made-by-an-agent' }).expect(201);
    const rows = await app.services.database.dataSource.getRepository(AuditEvent).findBy({ action: 'agent.created', targetId: res.body.agent.id });
    expect(rows).to.have.length(1);
    expect(rows[0]!.actor).to.equal(`agent:${created.agent.id}`);
  });

  it('accepts a user token with the admin scope only when the user is an admin', async () => {
    const registered = await registerClient(app, { name: 'console', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scopes: ['openid', 'admin'] });
    const plain = await createUser(app, 'plain@example.com');
    const { tokens: plainTokens } = await codeFlow(app, registered, plain, { scope: 'openid admin', resource: app.config.issuer, tokenResource: app.config.issuer });
    expect(plainTokens.scope?.split(' ')).to.include('admin');
    const refused = await callerWith(app, plainTokens.access_token).get('/admin/agents');
    expectError(refused, 403, 'insufficient_scope');

    const boss = await app.services.oidc.users.create({ email: 'boss@example.com', password: 'correct horse battery', isAdmin: true });
    const { tokens } = await codeFlow(app, registered, { email: boss.email, password: 'correct horse battery' }, { scope: 'openid admin', resource: app.config.issuer, tokenResource: app.config.issuer });
    const res = await callerWith(app, tokens.access_token).post('/admin/agents', { name: 'made-by-a-user' }).expect(201);
    const rows = await app.services.database.dataSource.getRepository(AuditEvent).findBy({ action: 'agent.created', targetId: res.body.agent.id });
    expect(rows[0]!.actor).to.equal(`user:${boss.id}`);
  });

  it('never writes a token or an Authorization header to the logs', async () => {
    const admin = await adminCaller(app);
    await admin.get('/admin/agents').expect(200);
    await app.http().get('/admin/agents').set('Authorization', `Bearer ${admin.token}x`).expect(401);
    const logs = app.logs.join('\n');
    expect(logs).to.include('/admin/agents');
    expect(logs).not.to.include(admin.token);
    expect(logs).not.to.include(admin.token.split('.')[2]);
  });
});
