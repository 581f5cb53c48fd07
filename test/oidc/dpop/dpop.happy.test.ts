import { expect } from 'chai';
import { agentKey, claimsOf, fixture, introspect, login, type ExchangeFixture } from '../../exchange/support.js';
import { client, discover, registerClient, type RegisteredClient } from '../support.js';
import { dpopKey, proof } from './support.js';

/**
 * RFC 9449 sender-constrained tokens: a DPoP proof at the token endpoint (every grant, including
 * the RFC 8693 API-key exchange) and at `/auth/login` binds the token to the proof's key: `cnf.jkt`
 * in the token and in introspection, `token_type: DPoP`. openid-client plays the client.
 */
describe('oidc: DPoP (RFC 9449), sender-constrained tokens', () => {
  let fx: ExchangeFixture;
  let service: RegisteredClient;

  before(async () => {
    fx = await fixture();
    service = await registerClient(fx.app, { name: 'dpop service', grantTypes: ['client_credentials'], scopes: ['read'] });
  });
  after(async () => { await fx.app.close(); });

  it('client credentials with openid-client\'s DPoP handle: a DPoP token with cnf.jkt, shown by introspection', async () => {
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const config = await discover(fx.app, service);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' }, { DPoP: client.getDPoPHandle(config, keyPair) });
    expect(tokens.token_type).to.equal('dpop');
    const jkt = (claimsOf(tokens.access_token).cnf as { jkt: string }).jkt;
    expect(jkt).to.be.a('string');
    const answer = await introspect(fx, tokens.access_token);
    expect(answer).to.deep.include({ active: true, token_type: 'DPoP', cnf: { jkt } });
  });

  it('without a proof the same client still gets a bearer token (DPoP is optional unless the client requires it)', async () => {
    const tokens = await client.clientCredentialsGrant(await discover(fx.app, service), { scope: 'read' });
    expect(tokens.token_type).to.equal('bearer');
    expect(claimsOf(tokens.access_token)).not.to.have.property('cnf');
    expect(await introspect(fx, tokens.access_token)).to.include({ token_type: 'Bearer' }).and.not.to.have.property('cnf');
  });

  it('/auth/login with a DPoP header issues a DPoP-bound token; the same key and session get it again, another key or none a new one', async () => {
    const { apiKey } = await agentKey(fx.app);
    const key = await dpopKey();
    const htu = `${fx.app.config.issuer}/auth/login`;
    const first = await fx.app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('DPoP', await proof(key, 'POST', htu)).send({ session_id: 'dpop-1' });
    expect(first.status, first.text).to.equal(200);
    expect(first.body.token_type).to.equal('DPoP');
    expect(claimsOf(first.body.access_token as string).cnf).to.deep.equal({ jkt: key.jkt });
    expect(await introspect(fx, first.body.access_token as string)).to.deep.include({ token_type: 'DPoP', cnf: { jkt: key.jkt } });

    const again = await fx.app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('DPoP', await proof(key, 'POST', htu)).send({ session_id: 'dpop-1' });
    expect(again.body.access_token, 'the same token for the same key').to.equal(first.body.access_token);
    expect(again.body.token_type).to.equal('DPoP');

    const other = await dpopKey();
    const otherKey = await fx.app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('DPoP', await proof(other, 'POST', htu)).send({ session_id: 'dpop-1' });
    expect(otherKey.body.access_token).not.to.equal(first.body.access_token);
    expect(claimsOf(otherKey.body.access_token as string).cnf).to.deep.equal({ jkt: other.jkt });

    const bearer = await login(fx.app, apiKey, { session_id: 'dpop-1' });
    expect(bearer.body.token_type).to.equal('Bearer');
    expect(claimsOf(bearer.body.access_token as string)).not.to.have.property('cnf');
  });

  it('the RFC 8693 API-key exchange with openid-client\'s DPoP handle binds the session token', async () => {
    const { apiKey } = await agentKey(fx.app);
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const config = await client.discovery(new URL(fx.app.config.issuer), 'keyport-api-key', undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const tokens = await client.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:token-exchange', {
      subject_token: apiKey, subject_token_type: 'urn:keyport:params:oauth:token-type:api_key', session_id: 'dpop-exchange',
    }, { DPoP: client.getDPoPHandle(config, keyPair) });
    expect(tokens.token_type).to.equal('dpop');
    const jkt = (claimsOf(tokens.access_token).cnf as { jkt: string }).jkt;
    expect(await introspect(fx, tokens.access_token)).to.deep.include({ active: true, token_type: 'DPoP', cnf: { jkt } });
  });

  it('a DPoP-bound access token is exchanged (RFC 8693) only with a proof of its key, and the new token stays bound', async () => {
    const { apiKey } = await agentKey(fx.app);
    const key = await dpopKey();
    const bound = await fx.app.http().post('/auth/login').set('Authorization', `Bearer ${apiKey}`).set('DPoP', await proof(key, 'POST', `${fx.app.config.issuer}/auth/login`)).send({ session_id: 'dpop-subject' });
    const subject = bound.body.access_token as string;
    const tokenUrl = `${fx.app.config.issuer}/oauth/token`;
    const form = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', client_id: 'keyport-api-key', subject_token: subject, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', scope: 'read' };
    const withoutProof = await fx.app.http().post('/oauth/token').type('form').send(form);
    expect(withoutProof.status, withoutProof.text).to.equal(400);
    expect(withoutProof.body.error).to.equal('invalid_grant');
    const otherKey = await fx.app.http().post('/oauth/token').type('form').set('DPoP', await proof(await dpopKey(), 'POST', tokenUrl)).send(form);
    expect(otherKey.body.error).to.equal('invalid_grant');
    const holder = await fx.app.http().post('/oauth/token').type('form').set('DPoP', await proof(key, 'POST', tokenUrl)).send(form);
    expect(holder.status, holder.text).to.equal(200);
    expect(holder.body.token_type).to.equal('DPoP');
    expect(claimsOf(holder.body.access_token as string).cnf).to.deep.equal({ jkt: key.jkt });
  });

  it('discovery advertises the DPoP algorithms the engine accepts', async () => {
    const res = await fx.app.http().get('/.well-known/openid-configuration').expect(200);
    expect(res.body.dpop_signing_alg_values_supported).to.deep.equal(['ES256', 'Ed25519', 'EdDSA']);
  });
});
