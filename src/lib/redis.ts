import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/redis_target.js';
import { CircuitBreaker } from './circuit_breaker.js';
import type { Logger } from './logger.js';
import { RedisBus } from './redis_bus.js';
import type { RedisClient } from './redis_client.js';

/** Failed commands in a row after which Keyport stops calling Redis (see redisCircuitBreaker). */
export const REDIS_BREAKER_FAILURES = 3;
/** How often a PING checks whether Redis answers again while the circuit is open. */
export const REDIS_PROBE_INTERVAL_MS = 500;
/** Longest pause between reconnection attempts: Redis is used again within this of coming back. */
const MAX_RECONNECT_DELAY_MS = 500;

export type { RedisClient } from './redis_client.js';

const reconnectDelay = (attempt: number): number => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);

/**
 * Options of the shared client (`services.redis`). Redis is a shared cache for Keyport, never
 * the source of truth, so the client fails fast instead of waiting: no offline queue (a command
 * while disconnected rejects at once), no retries of in-flight commands, a command timeout. Every
 * caller must therefore treat a rejected command as "Redis is away" and fall back (the rate
 * limiter falls back to in-memory counters). Reconnection runs in the background forever.
 */
export function commandClientOptions(keyPrefix: string): RedisOptions {
  return {
    keyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    // Off: a request's counters are already one command, and the requests of one turn share it
    // (src/ratelimit/redis_counters.ts). ioredis's automatic pipelining added a Pipeline object per
    // command and kept one pipeline in flight per connection, so a turn's call waited for the
    // previous turn's reply before it was even written (docs/benchmarks.md, "Rate limits on").
    enableAutoPipelining: false,
    retryStrategy: reconnectDelay,
    // ioredis keeps a timer this long when disconnecting from a socket that already failed,
    // which would hold a CLI process open after its work is done.
    disconnectTimeout: 200,
  };
}

/**
 * Logs when the connection goes and comes back: once per outage, not once per failed command
 * or reconnection attempt. Listening to `error` also keeps ioredis from printing
 * "Unhandled error event" for every attempt.
 */
export function watchConnection(redis: RedisClient, logger: Logger, name: string): void {
  let down = false;
  let everReady = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.warn(everReady ? `${name}: connection lost; reconnecting in the background` : `${name}: not reachable; retrying in the background`, { reason: err.message });
  });
  redis.on('ready', () => {
    if (down) logger.info(`${name}: connected again`);
    down = false;
    everReady = true;
  });
}

function whenReady(redis: RedisClient, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = (): void => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.once('ready', onReady);
  });
}

/**
 * Sentinel: the same fail-fast client, pointed at whatever master the sentinels name. After a
 * failover the dropped connection reconnects through the sentinels (asked again each attempt, so
 * the new master is found as soon as they have promoted it); `failoverDetector` also listens for
 * the sentinels' `+switch-master`, so a client still connected to a demoted (not dead) master
 * moves at once instead of writing to a replica.
 */
export function sentinelClientOptions(target: Extract<RedisTarget, { kind: 'sentinel' }>, keyPrefix: string): RedisOptions {
  return {
    ...commandClientOptions(keyPrefix),
    sentinels: target.sentinels.map((node) => ({ host: node.host, port: node.port })),
    name: target.name,
    role: 'master',
    // Keep asking (every sentinel down is an outage like any other: the insurance answers meanwhile).
    sentinelRetryStrategy: reconnectDelay,
    failoverDetector: true,
  };
}

/**
 * Cluster: the same fail-fast behaviour per node (`redisOptions`), slots refreshed in the
 * background; a command for a slot whose master is failing over rejects within the command
 * timeout and the caller falls back, as with one server.
 */
export function clusterClientOptions(keyPrefix: string): ClusterOptions {
  const { retryStrategy: _perNode, enableOfflineQueue: _queue, keyPrefix: _prefix, ...perNode } = commandClientOptions(keyPrefix);
  return {
    keyPrefix,
    enableOfflineQueue: false,
    // On a cluster each key is a command of its own (one Lua call per key, RedisCounters), and
    // automatic pipelining sends a turn's commands for one node as one write (at the price of one
    // pipeline in flight per slot; not measured on a cluster, which this bench does not run).
    enableAutoPipelining: true,
    clusterRetryStrategy: reconnectDelay,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    // A few redirections cover a resharding; many would keep a command alive past its budget.
    maxRedirections: 4,
    slotsRefreshTimeout: 1_000,
    slotsRefreshInterval: 2_000,
    redisOptions: perNode,
  };
}

/** Builds (does not wait for) the command client of a deployment. */
export function redisClientFor(target: RedisTarget, keyPrefix: string): RedisClient {
  switch (target.kind) {
    case 'standalone':
      return new Redis(target.url, commandClientOptions(keyPrefix));
    case 'sentinel':
      return new Redis(sentinelClientOptions(target, keyPrefix));
    case 'cluster':
      return new Cluster(target.nodes.map((node) => ({ host: node.host, port: node.port })), clusterClientOptions(keyPrefix));
  }
}

/**
 * The shared client. Start does not fail when Redis is down (the instance serves with
 * per-instance limits and reconnects by itself); it waits a moment so that a healthy Redis is
 * in use from the first request. `target` is a deployment, or the URL of one server.
 */
export async function connectRedis(url: string, keyPrefix: string, logger: Logger, options?: { readyTimeoutMs?: number }): Promise<Redis>;
export async function connectRedis(target: RedisTarget | string, keyPrefix: string, logger: Logger, options?: { readyTimeoutMs?: number }): Promise<RedisClient>;
export async function connectRedis(target: RedisTarget | string, keyPrefix: string, logger: Logger, options: { readyTimeoutMs?: number } = {}): Promise<RedisClient> {
  const redis = redisClientFor(typeof target === 'string' ? { kind: 'standalone', url: target } : target, keyPrefix);
  watchConnection(redis, logger, 'redis');
  await whenReady(redis, options.readyTimeoutMs ?? 2_000);
  return redis;
}

/**
 * The circuit breaker in front of the shared client. A frozen Redis (connection open, no answers)
 * otherwise costs every command its full `commandTimeout` before the caller falls back; once
 * REDIS_BREAKER_FAILURES commands in a row failed, callers (rate limits, the bus) skip Redis and
 * answer from memory at once, while a PING every REDIS_PROBE_INTERVAL_MS (timing out like any
 * command) finds out when it answers again.
 */
export function redisCircuitBreaker(redis: RedisClient, logger: Logger): CircuitBreaker {
  const breaker = new CircuitBreaker({
    name: 'redis',
    failureThreshold: REDIS_BREAKER_FAILURES,
    probeIntervalMs: REDIS_PROBE_INTERVAL_MS,
    probe: () => redis.ping(),
    logger,
  });
  // While disconnected the probe fails at once (no offline queue); a reconnection is the moment to ask.
  redis.on('ready', () => breaker.probeSoon());
  return breaker;
}

/**
 * A second connection for pub/sub (a subscribed connection can run no other command). Unlike
 * the command client it queues while disconnected, so subscriptions made during an outage are
 * sent once Redis is back; ioredis re-subscribes by itself after every reconnection.
 */
export function subscriberConnection(redis: RedisClient, logger: Logger): RedisClient {
  if (redis instanceof Cluster) {
    // Classic pub/sub on a cluster: PUBLISH reaches every node, so one subscribed connection to
    // any node hears every channel; ioredis picks the node and, when that node goes, subscribes
    // again on another one (messages published in between are lost, as in any outage: the
    // caches' database sweeps cover them, see RedisBus).
    const subscriber = redis.duplicate([], {
      keyPrefix: '',
      enableOfflineQueue: true,
      enableAutoPipelining: false,
      redisOptions: { ...redis.options.redisOptions, keyPrefix: '', maxRetriesPerRequest: null, commandTimeout: undefined },
    });
    watchConnection(subscriber, logger, 'redis subscriber');
    return subscriber;
  }
  const subscriber = redis.duplicate({
    keyPrefix: '',
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
    enableAutoPipelining: false,
    // The ready check is an INFO command; sent while queued SUBSCRIBEs have already put the
    // connection in subscriber mode it fails ("only subscriber commands may be used"), ioredis
    // drops the connection, and the subscriptions that were in flight are lost.
    enableReadyCheck: false,
  });
  watchConnection(subscriber, logger, 'redis subscriber');
  return subscriber;
}

/** Polite QUIT when connected (pending replies arrive first), then stop reconnecting. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') {
    await Promise.race([
      redis.quit().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
    ]);
  }
  if (redis.status !== 'end') redis.disconnect();
}

/** The shared Redis of a process: the command client, its circuit breaker, and the bus over it. */
export interface SharedRedis {
  readonly redis: RedisClient;
  readonly breaker: CircuitBreaker;
  readonly bus: RedisBus;
  /** Bus, breaker, then the connection. */
  close(): Promise<void>;
}

/** Connects to the configured deployment as the server and the CLI both do (src/service_container.ts, src/cli/dependencies.ts). */
export async function connectSharedRedis(target: RedisTarget | string, prefix: string, logger: Logger): Promise<SharedRedis> {
  const redis = await connectRedis(target, prefix, logger);
  const breaker = redisCircuitBreaker(redis, logger);
  const bus = new RedisBus(redis, subscriberConnection(redis, logger), { prefix, logger, breaker });
  return {
    redis,
    breaker,
    bus,
    close: async () => {
      await bus.close();
      breaker.close();
      await closeRedis(redis);
    },
  };
}
