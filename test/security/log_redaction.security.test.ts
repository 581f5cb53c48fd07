import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/lib/logger.js';
import { MAX_LOGGED_STRING, redact, redactText, scrubSecrets } from '../../src/lib/redact.js';
import { startTestApp } from '../support/app.js';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ3RfMSJ9.c2lnbmF0dXJlc2lnbmF0dXJl';
const CODE = 'Xq3v9LmN0pR7sT1uW4yZ6aB8cD2eF5gH7iJ9kL0mN1o';

/** Fastest of a few runs, in ms: the least disturbed by whatever else the machine is doing. */
function fastest(run: () => void, repeats = 5): number {
  let best = Infinity;
  for (let i = 0; i < repeats; i += 1) {
    const started = process.hrtime.bigint();
    run();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
  }
  return best;
}

/**
 * Near misses: text that looks like the start of a secret again and again but never completes
 * one. That is what makes a backtracking pattern re-scan the rest of the string from every
 * candidate start (the earlier JWT pattern did so from every `eyJ` after a `-`: 55–130 ms for a
 * 15 KB query); nothing is replaced, so the timing measures the scan, not string building.
 */
const NEAR_MISSES: Record<string, (length: number) => string> = {
  'eyJ after dashes, no dots': (n) => '-eyJ'.repeat(n / 4),
  'eyJ after word characters': (n) => 'xeyJ.'.repeat(n / 5),
  'Bearer with no credential': (n) => `Bearer ${' '.repeat(n)}`,
  'secret parameters without =': (n) => '&code&token?api_key'.repeat(n / 19),
  'key prefixes without a key': (n) => 'ak_live_-ak_test_.'.repeat(n / 18),
};

/**
 * Audit LOW: with LOG_LEVEL=http the JWT-redaction regex was quadratic, and every error's `code`
 * was logged as "[REDACTED]" because the secret-field list matched `code`.
 */
describe('security: log redaction', () => {
  it('takes time linear in its input: 8× the input costs far less than 64× (quadratic) the time', function () {
    this.timeout(20_000);
    for (const [name, make] of Object.entries(NEAR_MISSES)) {
      const small = make(16_000);
      const large = make(128_000);
      scrubSecrets(small); // warm up the regexps
      const growth = fastest(() => scrubSecrets(large)) / Math.max(fastest(() => scrubSecrets(small)), 0.05);
      expect(growth, `${name}: time grew ${growth.toFixed(1)}× for 8× the input`).to.be.below(24);
    }
  });

  it('bounds every string it logs, and still redacts what is left', () => {
    const long = `${JWT} ${'x'.repeat(1_000_000)}`;
    const cut = redactText(long);
    expect(cut.length).to.be.below(MAX_LOGGED_STRING + 64);
    expect(cut).not.to.include(JWT);
    expect(cut).to.match(/more characters\]$/);
  });

  it('never passes a deep object through unredacted', () => {
    let deep: Record<string, unknown> = { password: 'hunter2', note: `Bearer ${JWT}` };
    for (let i = 0; i < 50; i += 1) deep = { inner: deep };
    const out = JSON.stringify(redact(deep));
    expect(out).not.to.include('hunter2');
    expect(out).not.to.include(JWT);
  });

  it('keeps error codes, and redacts authorization codes by context', () => {
    const lines: string[] = [];
    const logger = createLogger('debug', new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } }));
    logger.error('request failed', { code: 'server_error' });
    logger.warn('database', { err: { code: 'ER_DUP_ENTRY', message: 'duplicate' } });
    logger.info('token request', { params: { grant_type: 'authorization_code', code: CODE, redirect_uri: 'https://app.example.com/cb' } });
    logger.info('callback', { url: `https://app.example.com/cb?code=${CODE}&state=xyz` });
    logger.info('form', { body: `code=${CODE}&grant_type=authorization_code` });
    logger.info(`returned to /cb?state=s&code=${CODE}`);
    const [failed, database, ...rest] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(failed!.code).to.equal('server_error');
    expect((database!.err as { code: string }).code).to.equal('ER_DUP_ENTRY');
    const output = rest.map((line) => JSON.stringify(line)).join('\n');
    expect(output).not.to.include(CODE);
    expect(output).to.include('state=xyz');
    expect(output).to.include('https://app.example.com/cb');
  });

  it('the access log of a running server (LOG_LEVEL=http) stays bounded and redacted for a huge hostile query', async () => {
    const app = await startTestApp({ env: { LOG_LEVEL: 'http' } });
    try {
      const query = `token=${JWT}&code=${CODE}&a=${'-eyJ'.repeat(4000)}`;
      await app.http().get(`/healthz?${query}`).expect(200);
      const line = app.logs.find((entry) => entry.includes('"message":"request"') && entry.includes('/healthz'));
      expect(line, 'an access-log line').to.be.a('string');
      expect(line!.length).to.be.below(MAX_LOGGED_STRING + 1024);
      expect(line).not.to.include(JWT.split('.')[2]);
      expect(line).not.to.include(CODE);
    } finally {
      await app.close();
    }
  });
});
