import { expect } from 'chai';
import { parseDatabaseUrl } from '../../../src/config/database_url.js';
import { Database } from '../../../src/db/database.js';
import { createLogger } from '../../../src/lib/logger.js';
import { dumpDatabase } from '../../keys/helpers.js';
import { agentKey, exchangeKey, login } from '../../exchange/support.js';
import { freePort, type TestApp } from '../../support/app.js';
import { createScratchDatabase } from '../../support/database.js';
import {
  REDIRECT_URI, client, createUser, discover, expectOAuthError, postForm, registerClient, signInThroughPages, startOidcApp, type RegisteredClient,
} from '../support.js';

const OPAQUE = 'https://opaque.hashed.example.com';
const MIGRATION = 'HashedTokenIds1733000000000';

/** Rows of `oidc_payloads` as stored. */
async function payloadRows(app: TestApp): Promise<Array<{ model: string; id: string; payload: string }>> {
  return app.services.database.dataSource.query('SELECT model, id, payload FROM oidc_payloads') as Promise<Array<{ model: string; id: string; payload: string }>>;
}

/**
 * Issue 12, low: refresh tokens, opaque access tokens and authorization codes used to be stored in
 * clear as row ids, so a copy of the database yielded working tokens. Rows are now stored under a
 * keyed hash of the id (key derived from KEYPORT_SECRET), without the id in the payload.
 */
describe('oidc: engine token ids are stored as keyed hashes (security)', () => {
  describe('a running server', () => {
    let app: TestApp;
    let web: RegisteredClient;
    let svc: RegisteredClient;
    let user: { email: string; password: string };
    before(async () => {
      app = await startOidcApp();
      await app.services.oidc.resourceServers.create({ audience: OPAQUE, format: 'opaque', scopes: ['read'] });
      web = await registerClient(app, { name: 'web', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: ['read', 'offline_access'] });
      svc = await registerClient(app, { name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
      user = await createUser(app);
    });
    after(async () => { await app.close(); });

    /** The authorization-code flow up to the callback: the code, not yet redeemed. */
    async function authorizationCode(): Promise<{ code: string; redeem: () => Promise<client.TokenEndpointResponse> }> {
      const config = await discover(app, web);
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI, scope: 'read offline_access', resource: OPAQUE, prompt: 'consent', state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const callback = await signInThroughPages(app, url, user);
      const code = callback.searchParams.get('code')!;
      return { code, redeem: () => client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }, { resource: OPAQUE }) };
    }

    it('a copy of the database holds no refresh token, opaque access token or authorization code, and no stored id works as one', async () => {
      const pending = await authorizationCode();
      expect(await dumpDatabase(app)).not.to.include(pending.code);
      const tokens = await pending.redeem();
      expect(tokens.access_token.split('.')).to.have.length(1);
      const cc = (await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read', resource: OPAQUE }, svc)).body.access_token as string;
      const { apiKey } = await agentKey(app);
      const keySession = await login(app, apiKey, { session_id: 'hashed' });
      const keyOpaque = await exchangeKey(app, apiKey, { session_id: 'hashed-opaque', resource: OPAQUE });
      expect(keyOpaque.access_token.split('.')).to.have.length(1);

      const secrets = [pending.code, tokens.access_token, tokens.refresh_token!, cc, keySession.body.refresh_token as string, keyOpaque.access_token, keyOpaque.refresh_token!];
      const dump = await dumpDatabase(app);
      for (const secret of secrets) expect(dump, 'a token value in the database').not.to.include(secret);

      // What a copy holds does not work as a token: every stored id, tried as a refresh token and introspected.
      for (const row of await payloadRows(app)) {
        if (row.model === 'RefreshToken') {
          expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: row.id }, web), 'invalid_grant', 400);
          expect((await app.http().post('/auth/refresh').send({ refresh_token: row.id })).status).to.equal(401);
        }
        if (row.model === 'AccessToken' || row.model === 'ClientCredentials') {
          expect((await postForm(app, '/oauth/introspect', { token: row.id }, svc)).body).to.deep.equal({ active: false });
        }
        if (row.model !== 'Session' && row.model !== 'DeviceCode') expect(JSON.parse(row.payload), `${row.model} payload`).not.to.have.property('jti');
      }

      // The real values work as before.
      for (const token of [tokens.access_token, cc, keyOpaque.access_token]) {
        expect((await postForm(app, '/oauth/introspect', { token }, svc)).body.active, 'introspection').to.equal(true);
      }
      const refreshed = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, resource: OPAQUE }, web);
      expect(refreshed.status, refreshed.text).to.equal(200);
    });

    it('an API-key session\'s grant and refresh token rows are keyed by the id\'s time part and its hash, in creation order; the engine\'s own ids keep the plain hash', async () => {
      const { apiKey } = await agentKey(app);
      const sessions: Array<{ sid: string; gid: string; refreshToken: string }> = [];
      for (const sessionId of ['ordered-1', 'ordered-2']) {
        const res = await login(app, apiKey, { session_id: sessionId });
        // The ids were made before the answer: the next session's carry a later millisecond.
        const answered = Date.now();
        const claims = JSON.parse(Buffer.from((res.body.access_token as string).split('.')[1]!, 'base64url').toString('utf8')) as { sid: string; gid: string };
        sessions.push({ sid: claims.sid, gid: claims.gid, refreshToken: res.body.refresh_token as string });
        while (Date.now() <= answered) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const rows = await payloadRows(app);
      const rowIds: string[][] = [];
      for (const { sid, gid, refreshToken } of sessions) {
        expect(sid).to.match(/^ses_[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(gid).to.match(/^[0-9A-HJKMNP-TV-Z]{26}$/);
        expect(refreshToken).to.match(/^[0-9A-HJKMNP-TV-Z]{26}[A-Za-z0-9_-]{43}$/);
        // Stored under the time part and the keyed hash: nothing of the token's random part.
        const grantRow = rows.find((row) => row.model === 'Grant' && row.id === app.services.oidc.payloads.rowId('Grant', gid));
        const refreshRow = rows.find((row) => row.model === 'RefreshToken' && row.id === app.services.oidc.payloads.rowId('RefreshToken', refreshToken));
        expect(grantRow?.id).to.match(new RegExp(`^${gid.slice(0, 10)}[0-9a-f]{64}$`));
        expect(refreshRow?.id).to.match(new RegExp(`^${refreshToken.slice(0, 10)}[0-9a-f]{64}$`));
        expect(await dumpDatabase(app), 'the refresh token\'s random part').not.to.include(refreshToken.slice(26));
        rowIds.push([sid, grantRow!.id, refreshRow!.id]);
      }
      // Later sessions sort after earlier ones, in each index they are inserted into.
      for (let column = 0; column < 3; column += 1) expect(rowIds[0]![column]! < rowIds[1]![column]!, `column ${column}`).to.equal(true);

      // The engine's own grants and tokens (the authorization-code flow) keep their ids and plain hashes.
      const before = new Set(rows.map((row) => `${row.model}\u0000${row.id}`));
      const tokens = await (await authorizationCode()).redeem();
      expect(tokens.refresh_token).to.match(/^[A-Za-z0-9_-]{43}$/);
      const added = (await payloadRows(app)).filter((row) => !before.has(`${row.model}\u0000${row.id}`) && row.model !== 'Session');
      expect(added.map((row) => row.model)).to.include.members(['Grant', 'RefreshToken']);
      for (const row of added) expect(row.id, row.model).to.match(/^[0-9a-f]{64}$/);
      const refreshed = await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: sessions[0]!.refreshToken }, web);
      expectOAuthError(refreshed, 'invalid_grant', 400); // another client's refresh token
      expect((await app.http().post('/auth/refresh').send({ refresh_token: sessions[1]!.refreshToken })).status).to.equal(200);
    });

    it('every reader of the rows still works: rotation and reuse detection, revocation, repeat logins, batched reads', async () => {
      const first = await (await authorizationCode()).redeem();
      const config = await discover(app, web);
      const second = await client.refreshTokenGrant(config, first.refresh_token!, { resource: OPAQUE });
      // Reuse of the rotated refresh token (consumed through the hashed row) ends the family.
      expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token! }, web), 'invalid_grant', 400);
      expectOAuthError(await postForm(app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: second.refresh_token! }, web), 'invalid_grant', 400);
      expect((await postForm(app, '/oauth/introspect', { token: second.access_token }, svc)).body.active).to.equal(false);

      // Revocation of an opaque token at /oauth/revoke (the engine destroys the hashed row).
      const cc = (await postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read', resource: OPAQUE }, svc)).body.access_token as string;
      await postForm(app, '/oauth/revoke', { token: cc }, svc).expect(200);
      expect((await postForm(app, '/oauth/introspect', { token: cc }, svc)).body.active).to.equal(false);

      // A repeat login hands out the same refresh token while it is unused (the exchange's isUnused), a fresh one after.
      const { apiKey } = await agentKey(app);
      const a = await login(app, apiKey, { session_id: 'repeat' });
      const b = await login(app, apiKey, { session_id: 'repeat' });
      expect(b.body.refresh_token).to.equal(a.body.refresh_token);
      const used = await app.http().post('/auth/refresh').send({ refresh_token: a.body.refresh_token });
      expect(used.status, used.text).to.equal(200);
      const c = await login(app, apiKey, { session_id: 'repeat' });
      expect(c.body.refresh_token).to.be.a('string').and.not.equal(a.body.refresh_token);

      // Concurrent lookups (batched into shared queries) each get their own answer.
      const many = await Promise.all(Array.from({ length: 12 }, () => postForm(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'read', resource: OPAQUE }, svc).then((res) => res.body.access_token as string)));
      const answers = await Promise.all(many.map((token) => postForm(app, '/oauth/introspect', { token }, svc).then((res) => res.body as { active: boolean; jti?: string })));
      for (const answer of answers) expect(answer.active).to.equal(true);
      expect(new Set((await Promise.all(many.map((token) => app.services.oidc.accessTokens.findOpaque(token)))).map((found) => found?.jti)).size).to.equal(many.length);
    });
  });

  describe('the migration of rows written before', () => {
    it('converts clear rows: the tokens keep working and a copy of the database no longer holds them', async function () {
      this.timeout(60_000);
      const database = await createScratchDatabase({ schema: 'empty' });
      // The same issuer before and after (the session's tokens are for it).
      const port = await freePort();
      const env = { PORT: String(port), ISSUER: `http://127.0.0.1:${port}` };
      try {
        const before = await startOidcApp({ database, env });
        await before.services.oidc.resourceServers.create({ audience: OPAQUE, format: 'opaque', scopes: ['read'] });
        const svc = await registerClient(before, { name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] });
        const cc = (await postForm(before, '/oauth/token', { grant_type: 'client_credentials', scope: 'read', resource: OPAQUE }, svc)).body.access_token as string;
        const { apiKey } = await agentKey(before);
        const session = await login(before, apiKey, { session_id: 'migrated' });
        const refreshToken = session.body.refresh_token as string;
        const gid = JSON.parse(Buffer.from((session.body.access_token as string).split('.')[1]!, 'base64url').toString('utf8')).gid as string;

        // Put the rows back as 47d941b wrote them: the engine id as row id, and in the payload.
        const { dataSource } = before.services.database;
        for (const [model, value] of [['ClientCredentials', cc], ['RefreshToken', refreshToken], ['Grant', gid]] as const) {
          const rowId = before.services.oidc.payloads.rowId(model, value);
          const [row] = await dataSource.query('SELECT payload FROM oidc_payloads WHERE model = ? AND id = ?', [model, rowId]) as Array<{ payload: string }>;
          expect(row, `${model} row`).not.to.equal(undefined);
          const payload = { ...JSON.parse(row!.payload), jti: value };
          await dataSource.query('UPDATE oidc_payloads SET id = ?, payload = ? WHERE model = ? AND id = ?', [value, JSON.stringify(payload), model, rowId]);
        }
        await dataSource.query('DELETE FROM keyport_migrations WHERE name = ?', [MIGRATION]);
        expect(await dumpDatabase(before)).to.include(refreshToken).and.include(cc);
        await before.close();

        // Without KEYPORT_SECRET the conversion refuses to run (it cannot compute the hashes).
        const target = parseDatabaseUrl(database.url, process.cwd());
        let refusal: unknown;
        try {
          const opened = await Database.open(target, createLogger('error'));
          await opened.close();
        } catch (err) {
          refusal = err;
        }
        expect(String(refusal)).to.match(/KEYPORT_SECRET/);

        const after = await startOidcApp({ database, env });
        try {
          const dump = await dumpDatabase(after);
          expect(dump).not.to.include(refreshToken);
          expect(dump).not.to.include(cc);
          expect((await postForm(after, '/oauth/introspect', { token: cc }, svc)).body).to.include({ active: true, client_id: svc.id });
          const refreshed = await after.http().post('/auth/refresh').send({ refresh_token: refreshToken });
          expect(refreshed.status, refreshed.text).to.equal(200);
          expect(refreshed.body.session_id).to.equal('migrated');
          const applied = await after.services.database.dataSource.query('SELECT name FROM keyport_migrations WHERE name = ?', [MIGRATION]) as unknown[];
          expect(applied).to.have.length(1);
        } finally {
          await after.close();
        }
      } finally {
        await database.drop();
      }
    });
  });
});
