import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/errors.js';
import { describeRedisTarget } from '../../src/config/redis_target.js';

const SECRET = 'x'.repeat(40);
const load = (env: Record<string, string>) => loadConfig({ KEYPORT_SECRET: SECRET, ...env }, mkdtempSync(join(tmpdir(), 'kp-cfg-')));

function failure(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** docs/reference.md §1: REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES, DATABASE_REPLICA_URLS, DATABASE_REPLICA_MAX_LAG_S. */
describe('configuration of Redis deployments and database replicas', () => {
  it('has no Redis and no replicas by default; REDIS_URL is a standalone server', () => {
    expect(load({}).redis).to.equal(undefined);
    expect(load({}).databaseReplicas).to.deep.equal({ urls: [], maxLagSeconds: 10 });
    const config = load({ REDIS_URL: 'redis://:pw@10.0.0.5:6380/2' });
    expect(config.redis).to.deep.equal({ kind: 'standalone', url: 'redis://:pw@10.0.0.5:6380/2' });
    expect(describeRedisTarget(config.redis!)).to.equal('standalone 10.0.0.5:6380');
  });

  it('reads sentinels (default port 26379) with the master name, and cluster nodes (default port 6379)', () => {
    expect(load({ REDIS_SENTINELS: 's1:26380, s2 ,[::1]:26381', REDIS_SENTINEL_NAME: 'main' }).redis).to.deep.equal({
      kind: 'sentinel', name: 'main', sentinels: [{ host: 's1', port: 26380 }, { host: 's2', port: 26379 }, { host: '::1', port: 26381 }],
    });
    expect(load({ REDIS_CLUSTER_NODES: 'r1:7000,r2' }).redis).to.deep.equal({ kind: 'cluster', nodes: [{ host: 'r1', port: 7000 }, { host: 'r2', port: 6379 }] });
  });

  it('refuses mixes, a missing or stray master name, and bad addresses', () => {
    expect(failure({ REDIS_URL: 'redis://a', REDIS_CLUSTER_NODES: 'b:7000' }).message).to.match(/REDIS_CLUSTER_NODES.*only one of/);
    expect(failure({ REDIS_SENTINELS: 'a:1', REDIS_CLUSTER_NODES: 'b:7000' }).message).to.match(/only one of/);
    expect(failure({ REDIS_SENTINELS: 'a:26379' }).message).to.match(/REDIS_SENTINEL_NAME/);
    expect(failure({ REDIS_SENTINEL_NAME: 'main' }).message).to.match(/REDIS_SENTINEL_NAME.*only used with REDIS_SENTINELS/);
    expect(failure({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'a b' }).message).to.match(/REDIS_SENTINEL_NAME/);
    expect(failure({ REDIS_CLUSTER_NODES: 'a:99999' }).message).to.match(/REDIS_CLUSTER_NODES.*host:port/);
    expect(failure({ REDIS_CLUSTER_NODES: 'redis://a:7000' }).message).to.match(/REDIS_CLUSTER_NODES/);
  });

  it('reads replica URLs of a MySQL primary and refuses them otherwise', () => {
    const config = load({ DATABASE_URL: 'mysql://u:p@primary:3306/keyport', DATABASE_REPLICA_URLS: 'mysql://u:p@r1:3306/keyport,mariadb://u:p@r2/keyport', DATABASE_REPLICA_MAX_LAG_S: '3' });
    expect(config.databaseReplicas).to.deep.equal({ urls: ['mysql://u:p@r1:3306/keyport', 'mysql://u:p@r2/keyport'], maxLagSeconds: 3 });
    expect(failure({ DATABASE_REPLICA_URLS: 'mysql://u@r1/keyport' }).message).to.match(/DATABASE_REPLICA_URLS.*MySQL\/MariaDB DATABASE_URL/);
    expect(failure({ DATABASE_URL: 'mysql://u@p/k', DATABASE_REPLICA_URLS: 'sqlite:./x.db' }).message).to.match(/DATABASE_REPLICA_URLS.*mysql:\/\//);
    expect(failure({ DATABASE_URL: 'mysql://u@p/k', DATABASE_REPLICA_MAX_LAG_S: '-1' }).message).to.match(/DATABASE_REPLICA_MAX_LAG_S/);
  });
});
