import { agentKey, expectError, fixture, login, type ExchangeFixture } from './support.js';

describe('exchange: /auth/sessions failures (docs/reference.md §4)', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture(); });
  after(async () => { await fx.app.close(); });

  it('401 without a key, with an unknown or revoked key', async () => {
    const { apiKey, key } = await agentKey(fx.app);
    await login(fx.app, apiKey, { session_id: 's' });
    expectError(await fx.app.http().delete('/auth/sessions/s'), 401, 'missing_api_key');
    expectError(await fx.app.http().get('/auth/sessions'), 401, 'missing_api_key');
    expectError(await fx.app.http().delete('/auth/sessions/s').set('X-API-Key', `ak_live_${'Q'.repeat(32)}`), 401, 'invalid_api_key');
    const { body } = await login(fx.app, apiKey, { session_id: 's' });
    // A bearer token is not the key: ending sessions takes the key.
    expectError(await fx.app.http().delete('/auth/sessions/s').set('Authorization', `Bearer ${body.access_token}`), 401, 'invalid_token');
    await fx.app.services.keys.apiKeys.revoke(key.id, { actor: 'test' });
    expectError(await fx.app.http().delete('/auth/sessions/s').set('X-API-Key', apiKey), 401, 'revoked_api_key');
  });

  it('404 for a session this key does not have (another key\'s session included), and for an ended one', async () => {
    const mine = await agentKey(fx.app);
    const theirs = await agentKey(fx.app);
    await login(fx.app, theirs.apiKey, { session_id: 'theirs' });
    expectError(await fx.app.http().delete('/auth/sessions/theirs').set('X-API-Key', mine.apiKey), 404, 'not_found');
    expectError(await fx.app.http().delete('/auth/sessions/never').set('X-API-Key', mine.apiKey), 404, 'not_found');
    await login(fx.app, mine.apiKey, { session_id: 'once' });
    await fx.app.http().delete('/auth/sessions/once').set('X-API-Key', mine.apiKey).expect(204);
    expectError(await fx.app.http().delete('/auth/sessions/once').set('X-API-Key', mine.apiKey), 404, 'not_found');
  });

  it('400 for a malformed session ID in the path and for keys in two places', async () => {
    const { apiKey } = await agentKey(fx.app);
    const other = await agentKey(fx.app);
    // Broken percent-encoding or bytes that are not UTF-8 are refused too, not taken as a literal ID.
    for (const path of [`/auth/sessions/${'a'.repeat(129)}`, '/auth/sessions/with%20space', '/auth/sessions/ctl%01', '/auth/sessions/zw%E2%80%8B', '/auth/sessions/%E0%A4%A', '/auth/sessions/lone%ED%A0%80', '/auth/sessions/%FF']) {
      expectError(await fx.app.http().delete(path).set('X-API-Key', apiKey), 400, 'invalid_request');
    }
    expectError(await fx.app.http().delete('/auth/sessions/x').set('X-API-Key', apiKey).set('Authorization', `Bearer ${other.apiKey}`), 400, 'invalid_request');
    expectError(await fx.app.http().delete('/auth/sessions/x').set('X-API-Key', apiKey).set('Content-Type', 'text/plain').send('hello'), 415, 'unsupported_media_type');
  });

  it('404 for the collection path with DELETE and other unknown routes under /auth/sessions', async () => {
    const { apiKey } = await agentKey(fx.app);
    const res = await fx.app.http().delete('/auth/sessions').set('X-API-Key', apiKey);
    if (res.status !== 405) expectError(res, 404, 'not_found');
    expectError(await fx.app.http().delete('/auth/sessions/a/b').set('X-API-Key', apiKey), 404, 'not_found');
  });
});
