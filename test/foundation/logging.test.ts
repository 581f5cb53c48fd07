import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/lib/logger.js';
import { redact } from '../../src/lib/redact.js';
import { startTestApp } from '../support/app.js';

const KEY = 'ak_live_AbCdEfGhIjKlMnOpQrStUvWxYz012345';
const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ3RfMSJ9.c2lnbmF0dXJl';

describe('log redaction', () => {
  it('removes secrets by field name and by shape, at any depth', () => {
    const cleaned = JSON.stringify(redact({
      headers: { authorization: `Bearer ${JWT}`, 'x-api-key': KEY, accept: 'application/json' },
      body: { api_key: KEY, password: 'hunter2', client_secret: 's3cr3t', session_id: 'visible' },
      note: `used ${KEY} and ${JWT}`,
      url: `/auth/test?access_token_query=${KEY}&x=1`,
    }));
    for (const secret of [KEY, JWT, 'hunter2', 's3cr3t', 'AbCdEfGhIjKl']) expect(cleaned).not.to.include(secret);
    expect(cleaned).to.include('visible');
    expect(cleaned).to.include('application/json');
    expect(cleaned).to.include('x=1');
  });

  it('applies to every logger entry, whatever the call site passes', () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } }));
    logger.info(`login with ${KEY}`, { token: JWT, nested: { refresh_token: 'rt-secret', ok: 1 } });
    const out = lines.join('');
    expect(out).not.to.include(KEY);
    expect(out).not.to.include(JWT);
    expect(out).not.to.include('rt-secret');
    expect(JSON.parse(out)).to.have.nested.property('nested.ok', 1);
  });

  it('keeps keys in query strings and headers out of the access log of a running server', async () => {
    const app = await startTestApp();
    try {
      await app.http().get(`/healthz?access_token_query=${KEY}`).set('Authorization', `Bearer ${JWT}`).set('X-API-Key', KEY);
      await app.http().post('/healthz').send({ api_key: KEY, password: 'hunter2' });
      const logs = app.logs.join('\n');
      expect(logs).to.include('/healthz');
      expect(logs).not.to.include(KEY);
      expect(logs).not.to.include(JWT);
      expect(logs).not.to.include('hunter2');
    } finally {
      await app.close();
    }
  });
});
