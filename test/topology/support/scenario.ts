import { expect } from 'chai';
import type { JSONWebKeySet } from 'jose';
import { agentKey, login } from '../../exchange/support.js';
import { postForm, registerClient, type RegisteredClient } from '../../oidc/support.js';
import { randomPrefix } from '../../ratelimit/support.js';
import { startTestApp, type TestApp } from '../../support/app.js';
import { createScratchDatabase, type ScratchDatabase } from '../../support/database.js';
import { sleep, waitFor } from './processes.js';

/** Two Keyport instances on one database and one Redis deployment, as docs/scaling.md describes. */
export interface Pair {
  readonly a: TestApp;
  readonly b: TestApp;
  readonly introspectorOnB: RegisteredClient;
  readonly introspectorOnA: RegisteredClient;
  close(): Promise<void>;
}

export async function startPair(redisEnv: Record<string, string>, options: { database?: ScratchDatabase; env?: Record<string, string> } = {}): Promise<Pair> {
  const database = options.database ?? (await createScratchDatabase());
  const env = { ...redisEnv, REDIS_PREFIX: randomPrefix(), RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_MIN: '100000', RATE_LIMIT_PER_HOUR: '1000000', ...options.env };
  const a = await startTestApp({ env, database });
  const b = await startTestApp({ env: { ...env, ISSUER: a.config.issuer }, database });
  const introspectorOnB = await registerClient(b, { name: 'resource server B', grantTypes: ['client_credentials'], scopes: ['read'] });
  const introspectorOnA = await registerClient(a, { name: 'resource server A', grantTypes: ['client_credentials'], scopes: ['read'] });
  // Both instances' subscriptions confirmed by Redis before a test publishes anything.
  for (const app of [a, b]) await (app.services.bus as { whenSubscribed?: () => Promise<void> }).whenSubscribed?.();
  return {
    a, b, introspectorOnA, introspectorOnB,
    close: async () => {
      await b.close();
      await a.close();
      if (!options.database) await database.drop();
    },
  };
}

export async function introspect(app: TestApp, as: RegisteredClient, token: string): Promise<Record<string, unknown>> {
  const res = await postForm(app, '/oauth/introspect', { token }, as);
  expect(res.status, res.text).to.equal(200);
  return res.body as Record<string, unknown>;
}

/** Shared Redis is in use on both instances again: connected, circuit closed, counters not in memory. */
export async function bothOnRedis(pair: Pair, timeoutMs: number): Promise<number> {
  return waitFor('both instances to use Redis again', () => [pair.a, pair.b].every((app) => {
    const { redis, redisBreaker, rateLimits } = app.services;
    return redis?.status === 'ready' && (redisBreaker?.allowsCalls ?? true) && !rateLimits.status().degraded;
  }), timeoutMs, 50);
}

/**
 * A channel B subscribed to when the probe was made: `carries()` publishes on A until B hears it.
 * Made before a failover, it proves B's subscription survived (was renewed on the new master/node).
 */
export class BusProbe {
  private readonly channel = `topology.probe.${Math.random().toString(36).slice(2)}`;
  private readonly seen: string[] = [];
  private readonly unsubscribe: () => void;

  constructor(private readonly pair: Pair) {
    this.unsubscribe = pair.b.services.bus.subscribe(this.channel, (message) => this.seen.push(message));
  }

  async carries(timeoutMs: number): Promise<number> {
    const before = this.seen.length;
    return waitFor('a bus message from A to reach B', async () => {
      await this.pair.a.services.bus.publish(this.channel, 'ping');
      await sleep(30);
      return this.seen.length > before;
    }, timeoutMs, 20);
  }

  close(): void {
    this.unsubscribe();
  }
}

/** A message published on A's bus reaches B through Redis (pub/sub subscribed on B). */
export async function busCarries(pair: Pair, timeoutMs: number): Promise<number> {
  const probe = new BusProbe(pair);
  try {
    return await probe.carries(timeoutMs);
  } finally {
    probe.close();
  }
}

/** A key revoked on `on` is refused by `other` (the key, and the introspection of its token); returns ms to both refusals. */
export async function revocationReaches(pair: Pair, on: 'a' | 'b', timeoutMs: number, prepared?: Prepared): Promise<{ keyMs: number; tokenMs: number }> {
  const revoking = on === 'a' ? pair.a : pair.b;
  const other = on === 'a' ? pair.b : pair.a;
  const introspector = on === 'a' ? pair.introspectorOnB : pair.introspectorOnA;
  const { apiKey, keyId, token } = prepared ?? (await prepareRevocation(pair, on));
  const started = Date.now();
  await revoking.services.keys.apiKeys.revoke(keyId, { actor: 'topology-test' });
  const [keyMs, tokenMs] = await Promise.all([
    waitFor('the revoked key to be refused on the other instance', async () => (await other.http().get('/auth/test').set('X-API-Key', apiKey)).status === 401, timeoutMs, 10).then(() => Date.now() - started),
    waitFor('the revoked key\'s token to be inactive on the other instance', async () => (await introspect(other, introspector, token)).active === false, timeoutMs, 10).then(() => Date.now() - started),
  ]);
  return { keyMs, tokenMs };
}

export interface Prepared {
  readonly apiKey: string;
  readonly keyId: string;
  readonly token: string;
}

/** A key with a token, both cached as good on the instance that is not `on` (the one that must learn of the revocation). */
export async function prepareRevocation(pair: Pair, on: 'a' | 'b'): Promise<Prepared> {
  const revoking = on === 'a' ? pair.a : pair.b;
  const other = on === 'a' ? pair.b : pair.a;
  const introspector = on === 'a' ? pair.introspectorOnB : pair.introspectorOnA;
  const { apiKey, key } = await agentKey(revoking);
  const minted = await login(revoking, apiKey, { session_id: `s-${Math.random().toString(36).slice(2)}` });
  expect(minted.status, minted.text).to.equal(200);
  const token = minted.body.access_token as string;
  await other.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
  expect(await introspect(other, introspector, token)).to.include({ active: true });
  return { apiKey, keyId: key.id, token };
}

/** A key limited to 3 a minute: A, B, A pass, the fourth (on B) is refused: one shared counter. */
export async function limitIsShared(pair: Pair): Promise<void> {
  const { apiKey } = await agentKey(pair.a, { rateLimit: { perMinute: 3 } });
  await pair.a.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
  await pair.b.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
  const third = await pair.a.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
  expect(third.headers['x-ratelimit-remaining']).to.equal('0');
  const refused = await pair.b.http().get('/auth/test').set('X-API-Key', apiKey);
  expect(refused.status).to.equal(429);
}

/** A signing key rotated on A is published by B and used for B's new tokens. */
export async function rotationReaches(pair: Pair, timeoutMs: number): Promise<number> {
  const rotated = await pair.a.services.oidc.rotateSigningKey({ actor: 'topology-test' });
  const took = await waitFor('B to publish the rotated key', async () => {
    const keys = ((await pair.b.http().get('/oauth/jwks').expect(200)).body as JSONWebKeySet).keys;
    return keys[0]?.kid === rotated.kid;
  }, timeoutMs, 25);
  const { apiKey } = await agentKey(pair.b);
  const minted = (await login(pair.b, apiKey, { session_id: `after-rotation-${rotated.kid}` })).body.access_token as string;
  const header = JSON.parse(Buffer.from(minted.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string };
  expect(header.kid).to.equal(rotated.kid);
  return took;
}

/**
 * Requests on both instances, one after another per instance, for as long as it runs: what a
 * failover costs the callers. "Lost" is any answer but 200 (a 5xx, a timeout, a refused connection).
 */
export class SteadyLoad {
  private running = true;
  private readonly loops: Promise<void>[];
  sent = 0;
  lost = 0;
  readonly lostStatuses: number[] = [];
  slowestMs = 0;

  constructor(apps: readonly TestApp[], apiKey: string) {
    this.loops = apps.map(async (app) => {
      while (this.running) {
        const started = Date.now();
        let status = 0;
        try {
          status = (await app.http().get('/auth/test').set('X-API-Key', apiKey).timeout(5000)).status;
        } catch {
          status = 0;
        }
        this.sent += 1;
        this.slowestMs = Math.max(this.slowestMs, Date.now() - started);
        if (status !== 200) {
          this.lost += 1;
          if (this.lostStatuses.length < 20) this.lostStatuses.push(status);
        }
        await sleep(5);
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** What a failover test reports (printed, and copied into docs/scaling.md). */
export interface FailoverFigures {
  topology: string;
  database: string;
  /** From killing the master until the deployment had a new one (as its own tools say). */
  failoverMs: number;
  /** A key revoked on A right after the kill: until B refused it / its token. */
  revokedDuringKeyMs: number;
  revokedDuringTokenMs: number;
  /** From the kill until both instances used Redis again (connected, circuit closed, shared counters). */
  backOnRedisMs: number;
  /** From the kill until a subscription B made before it carried a message from A again. */
  busBackMs: number;
  /** A key revoked on A after the failover: until B refused it / its token. */
  revokedAfterKeyMs: number;
  revokedAfterTokenMs: number;
  requestsSent: number;
  requestsLost: number;
  slowestRequestMs: number;
}

/**
 * While Redis is away on A (its circuit open), a key limited to 2 a minute gets 429 on A's third
 * request: limits still hold, per instance, counted in memory.
 */
export async function limitHoldsWhileAway(pair: Pair, timeoutMs: number): Promise<void> {
  const { apiKey } = await agentKey(pair.a, { rateLimit: { perMinute: 2 } });
  await waitFor('A\'s Redis circuit to open', () => !(pair.a.services.redisBreaker?.allowsCalls ?? true), timeoutMs, 10);
  expect(pair.a.services.rateLimits.status().degraded).to.equal(true);
  await pair.a.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
  await pair.a.http().get('/auth/test').set('X-API-Key', apiKey).expect(200);
  const third = await pair.a.http().get('/auth/test').set('X-API-Key', apiKey);
  expect(third.status).to.equal(429);
}

export async function runFailover(pair: Pair, topology: string, kill: () => Promise<void>, promoted: () => Promise<void>, during?: () => Promise<void>): Promise<FailoverFigures> {
  const prepared = await prepareRevocation(pair, 'a');
  const { apiKey: loadKey } = await agentKey(pair.a);
  const probe = new BusProbe(pair);
  await probe.carries(2_000);
  const load = new SteadyLoad([pair.a, pair.b], loadKey);
  await sleep(300);
  const killedAt = Date.now();
  try {
    await kill();
    // Revoked while Redis is switching: the message may be lost; the sweeps must still refuse it.
    const revokedDuring = await revocationReaches(pair, 'a', 5_000, prepared);
    await during?.();
    await promoted();
    const failoverMs = Date.now() - killedAt;
    await bothOnRedis(pair, 20_000);
    const backOnRedisMs = Date.now() - killedAt;
    // B's subscriptions made before the failover carry messages again (resubscribed by the client).
    await probe.carries(10_000);
    const busBackMs = Date.now() - killedAt;
    const revokedAfter = await revocationReaches(pair, 'a', 2_000);
    await sleep(300);
    await load.stop();
    return {
      topology,
      database: pair.a.config.database.type === 'mysql' ? 'MariaDB' : 'SQLite',
      failoverMs,
      revokedDuringKeyMs: revokedDuring.keyMs,
      revokedDuringTokenMs: revokedDuring.tokenMs,
      backOnRedisMs,
      busBackMs,
      revokedAfterKeyMs: revokedAfter.keyMs,
      revokedAfterTokenMs: revokedAfter.tokenMs,
      requestsSent: load.sent,
      requestsLost: load.lost,
      slowestRequestMs: load.slowestMs,
    };
  } finally {
    probe.close();
    await load.stop();
    if (load.lost > 0) console.log(`    lost answers: ${JSON.stringify(load.lostStatuses)}`);
  }
}

export function report(figures: FailoverFigures): void {
  console.log(`    failover figures: ${JSON.stringify(figures)}`);
}
