import { expect } from 'chai';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/errors.js';
import { runKeyport } from '../support/cli.js';

const SECRET = 'x'.repeat(40);

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ KEYPORT_SECRET: SECRET, ...env }, mkdtempSync(join(tmpdir(), 'kp-cfg-')));
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has the docs/reference.md §1 defaults', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'kp-cfg-'));
    const config = loadConfig({ KEYPORT_SECRET: SECRET }, cwd);
    expect(config.port).to.equal(3000);
    expect(config.host).to.equal('127.0.0.1');
    expect(config.issuer).to.equal('http://localhost:3000');
    expect(config.database).to.deep.equal({ type: 'sqlite', path: join(cwd, 'data', 'keyport.db') });
    expect(config.tokenTtl).to.equal(7200);
    expect(config.rateLimit).to.deep.equal({ perMinute: 60, perHour: 1000, burst: 20 });
    expect(config.requireHttps).to.equal(false);
    expect(config.trustProxy).to.equal(false);
    expect(config.allowQueryApiKey).to.equal(false);
    expect(config.corsOrigins).to.deep.equal([]);
    expect(config.logLevel).to.equal('info');
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('parses a MySQL DATABASE_URL and the issuer from PORT', () => {
    const config = loadConfig({ KEYPORT_SECRET: SECRET, PORT: '8080', DATABASE_URL: 'mysql://root:pw@db:3306/keyport' });
    expect(config.issuer).to.equal('http://localhost:8080');
    expect(config.database).to.deep.include({ type: 'mysql', database: 'keyport' });
  });

  it('turns REQUIRE_HTTPS on in production and demands a secret there', () => {
    const config = loadConfig({ NODE_ENV: 'production', KEYPORT_SECRET: SECRET, ISSUER: 'https://auth.example.com' });
    expect(config.requireHttps).to.equal(true);
    const err = failure({ NODE_ENV: 'production', KEYPORT_SECRET: '', ISSUER: 'https://auth.example.com' });
    expect(err.message).to.match(/^KEYPORT_SECRET: is required when NODE_ENV=production/);
  });

  it('generates a development secret into the data folder once, readable only by the owner', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'kp-cfg-'));
    const first = loadConfig({}, cwd);
    const second = loadConfig({}, cwd);
    expect(first.secret).to.have.length.greaterThan(32);
    expect(second.secret).to.equal(first.secret);
    const file = join(cwd, 'data', 'keyport.secret');
    expect(readFileSync(file, 'utf8').trim()).to.equal(first.secret);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
  });

  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /^PORT: must be a whole number/],
    [{ PORT: '70000' }, /^PORT: must be between 0 and 65535/],
    [{ TOKEN_TTL: '-5' }, /^TOKEN_TTL: must be a whole number/],
    [{ TOKEN_TTL: '10' }, /^TOKEN_TTL: .*60/],
    [{ DATABASE_URL: 'postgres://x/y' }, /^DATABASE_URL: must start with sqlite: or mysql:\/\//],
    [{ DATABASE_URL: 'mysql://host-only' }, /^DATABASE_URL: must name a host and a database/],
    [{ REQUIRE_HTTPS: 'maybe' }, /^REQUIRE_HTTPS: must be true or false/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: must be one of/],
    [{ NODE_ENV: 'staging' }, /^NODE_ENV: must be one of/],
    [{ ISSUER: 'not a url' }, /^ISSUER: must be an http\(s\) URL/],
    [{ REDIS_URL: 'http://localhost' }, /^REDIS_URL: must be a redis:\/\/ URL/],
    [{ CORS_ORIGINS: 'https://ok.example, ftp://nope' }, /^CORS_ORIGINS: must list http\(s\) origins/],
    [{ KEYPORT_SECRET: 'short' }, /^KEYPORT_SECRET: must be at least 32 characters/],
    [{ RATE_LIMIT_PER_MIN: '0' }, /^RATE_LIMIT_PER_MIN: must be between/],
    [{ TLS_CERT: './cert.pem' }, /^TLS_KEY: TLS_CERT and TLS_KEY must be set together/],
  ];
  for (const [env, expected] of cases) {
    it(`rejects ${JSON.stringify(env)} with one line naming the variable`, () => {
      const err = failure(env);
      expect(err.message).to.match(expected);
      expect(err.message).not.to.include('\n');
    });
  }

  it('stops the CLI with one line and a non-zero exit code on a bad value', async () => {
    const result = await runKeyport(['migrate'], { PORT: 'eighty', KEYPORT_SECRET: SECRET });
    expect(result.code).to.equal(2);
    expect(result.stderr.trim()).to.equal('keyport: invalid configuration: PORT: must be a whole number, got "eighty"');
  });
});

describe('configuration of time budgets and database limits', () => {
  const load = (env: Record<string, string>) => loadConfig({ KEYPORT_SECRET: SECRET, ...env }, mkdtempSync(join(tmpdir(), 'kp-cfg-')));

  it('defaults to a 5 s request budget, 1 s to get a connection, 3 s per statement, 20 connections, 10 s of shutdown grace', () => {
    const config = load({});
    expect(config.requestTimeoutMs).to.equal(5000);
    expect(config.databaseLimits).to.deep.equal({ poolSize: 20, queueLimit: 200, acquireTimeoutMs: 1000, queryTimeoutMs: 3000 });
    expect(config.shutdownGraceMs).to.equal(10_000);
    expect(Object.isFrozen(config.databaseLimits)).to.equal(true);
  });

  it('reads them from the environment; the queue follows the pool size unless set', () => {
    const config = load({ REQUEST_TIMEOUT_MS: '8000', DB_POOL_SIZE: '5', DB_ACQUIRE_TIMEOUT_MS: '500', DB_QUERY_TIMEOUT_MS: '6000', SHUTDOWN_GRACE_MS: '30000' });
    expect(config.requestTimeoutMs).to.equal(8000);
    expect(config.databaseLimits).to.deep.equal({ poolSize: 5, queueLimit: 50, acquireTimeoutMs: 500, queryTimeoutMs: 6000 });
    expect(config.shutdownGraceMs).to.equal(30_000);
    expect(load({ DB_QUEUE_LIMIT: '7' }).databaseLimits.queueLimit).to.equal(7);
  });

  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ REQUEST_TIMEOUT_MS: 'soon' }, /^REQUEST_TIMEOUT_MS: must be a whole number/],
    [{ REQUEST_TIMEOUT_MS: '50' }, /^REQUEST_TIMEOUT_MS: must be between 100 and/],
    [{ DB_POOL_SIZE: '0' }, /^DB_POOL_SIZE: must be between 1 and 1000/],
    [{ DB_QUEUE_LIMIT: '0' }, /^DB_QUEUE_LIMIT: must be between 1 and/],
    [{ DB_ACQUIRE_TIMEOUT_MS: '5' }, /^DB_ACQUIRE_TIMEOUT_MS: must be between 10 and/],
    // The budgets nest: one statement's worst case ends before the request's budget…
    [{ DB_QUERY_TIMEOUT_MS: '4500' }, /^DB_QUERY_TIMEOUT_MS: DB_ACQUIRE_TIMEOUT_MS \+ DB_QUERY_TIMEOUT_MS \(1000 \+ 4500 ms\) must be below REQUEST_TIMEOUT_MS \(5000 ms\)/],
    [{ DB_ACQUIRE_TIMEOUT_MS: '2000' }, /^DB_ACQUIRE_TIMEOUT_MS: .*must be below REQUEST_TIMEOUT_MS/],
    [{ REQUEST_TIMEOUT_MS: '2000' }, /^REQUEST_TIMEOUT_MS: DB_ACQUIRE_TIMEOUT_MS \+ DB_QUERY_TIMEOUT_MS \(1000 \+ 3000 ms\) must be below REQUEST_TIMEOUT_MS \(2000 ms\)/],
    // …and every request ends before the shutdown grace does.
    [{ SHUTDOWN_GRACE_MS: '5000' }, /^SHUTDOWN_GRACE_MS: must be above REQUEST_TIMEOUT_MS \(5000 ms\)/],
    [{ SHUTDOWN_GRACE_MS: '500' }, /^SHUTDOWN_GRACE_MS: must be between 1000 and/],
  ];
  for (const [env, expected] of cases) {
    it(`rejects ${JSON.stringify(env)} with one line naming the variable`, () => {
      const err = failure(env);
      expect(err.message).to.match(expected);
      expect(err.message).not.to.include('\n');
    });
  }

  it('accepts a shorter budget when the database timeouts fit inside it', () => {
    const config = load({ REQUEST_TIMEOUT_MS: '2000', DB_ACQUIRE_TIMEOUT_MS: '300', DB_QUERY_TIMEOUT_MS: '1500', SHUTDOWN_GRACE_MS: '4000' });
    expect(config.requestTimeoutMs).to.equal(2000);
    expect(config.databaseLimits).to.deep.include({ acquireTimeoutMs: 300, queryTimeoutMs: 1500 });
  });
});
