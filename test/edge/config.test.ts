import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/errors.js';
import { runKeyport } from '../support/cli.js';

const SECRET = 'x'.repeat(40);

function load(env: Record<string, string>) {
  return loadConfig({ KEYPORT_SECRET: SECRET, ...env }, mkdtempSync(join(tmpdir(), 'kp-edge-cfg-')));
}

function failure(env: Record<string, string>): string {
  try {
    load(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('edge and rate-limit configuration', () => {
  it('has defaults for the limits that are not per key, the Redis prefix and proxy hops', () => {
    const config = load({});
    expect(config.rateLimitPolicies).to.deep.equal({ disabled: false, clientPerMinute: 600, loginPerIpPerMinute: 30, keyFailuresPerIpPerMinute: 20, publicIntrospectionPerIpPerMinute: 60, userCodeEntriesPerIpPerMinute: 10 });
    expect(config.redisPrefix).to.equal('keyport:');
    expect(config.trustProxyHops).to.equal(1);
    expect(Object.isFrozen(config.rateLimitPolicies)).to.equal(true);
  });

  it('reads them from the environment', () => {
    const config = load({
      RATE_LIMIT_DISABLED: 'true', RATE_LIMIT_CLIENT_PER_MIN: '1200', RATE_LIMIT_LOGIN_PER_IP: '10',
      RATE_LIMIT_KEY_FAILURES_PER_IP: '5', RATE_LIMIT_PUBLIC_INTROSPECTION_PER_IP: '7', RATE_LIMIT_USER_CODE_PER_IP: '4', REDIS_PREFIX: 'kp:eu-1:', TRUST_PROXY_HOPS: '2',
    });
    expect(config.rateLimitPolicies).to.deep.equal({ disabled: true, clientPerMinute: 1200, loginPerIpPerMinute: 10, keyFailuresPerIpPerMinute: 5, publicIntrospectionPerIpPerMinute: 7, userCodeEntriesPerIpPerMinute: 4 });
    expect(config.redisPrefix).to.equal('kp:eu-1:');
    expect(config.trustProxyHops).to.equal(2);
  });

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ RATE_LIMIT_DISABLED: 'sometimes' }, /^RATE_LIMIT_DISABLED: must be true or false, got "sometimes"/],
    [{ RATE_LIMIT_CLIENT_PER_MIN: '0' }, /^RATE_LIMIT_CLIENT_PER_MIN: must be between 1 and/],
    [{ RATE_LIMIT_LOGIN_PER_IP: 'ten' }, /^RATE_LIMIT_LOGIN_PER_IP: must be a whole number/],
    [{ RATE_LIMIT_KEY_FAILURES_PER_IP: '-1' }, /^RATE_LIMIT_KEY_FAILURES_PER_IP: must be a whole number/],
    [{ RATE_LIMIT_PUBLIC_INTROSPECTION_PER_IP: '0' }, /^RATE_LIMIT_PUBLIC_INTROSPECTION_PER_IP: must be between 1 and/],
    [{ REDIS_PREFIX: 'has space' }, /^REDIS_PREFIX: must be 1 to 64 characters/],
    [{ REDIS_PREFIX: 'x'.repeat(65) }, /^REDIS_PREFIX: must be 1 to 64 characters/],
    [{ TRUST_PROXY_HOPS: '0' }, /^TRUST_PROXY_HOPS: must be between 1 and 10/],
    [{ CORS_ORIGINS: 'https://app.example.com/callback' }, /^CORS_ORIGINS: must list http\(s\) origins .*no path/],
    [{ CORS_ORIGINS: 'https://*.example.com' }, /^CORS_ORIGINS: must list http\(s\) origins/],
    [{ CORS_ORIGINS: 'https://app.example.com?x=1' }, /^CORS_ORIGINS: must list http\(s\) origins/],
  ];
  for (const [env, pattern] of bad) {
    it(`rejects ${JSON.stringify(env).slice(0, 70)}`, () => {
      expect(failure(env)).to.match(pattern);
    });
  }

  it('stops the process with one line naming the variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kp-edge-cli-'));
    const result = await runKeyport(['migrate'], { KEYPORT_SECRET: SECRET, DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'k.db')}`, REDIS_PREFIX: 'bad prefix' });
    expect(result.code).to.not.equal(0);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.match(/REDIS_PREFIX: must be 1 to 64 characters/);
  });
});
