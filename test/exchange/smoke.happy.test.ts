import { expect } from 'chai';
import { agentKey, claimsOf, fixture, introspect, login, type ExchangeFixture } from './support.js';

describe('exchange: smoke', () => {
  let fx: ExchangeFixture;
  before(async () => { fx = await fixture(); });
  after(async () => { await fx.app.close(); });

  it('logs in', async () => {
    const { apiKey, key, agent } = await agentKey(fx.app);
    const res = await login(fx.app, apiKey, { session_id: 'abc' });
    console.log(res.status, res.body);
    expect(res.status).to.equal(200);
    console.log(claimsOf(res.body.access_token));
    const again = await login(fx.app, apiKey, { session_id: 'abc' });
    console.log(again.body);
    console.log(await introspect(fx, res.body.access_token));
    void key; void agent;
  });
});
