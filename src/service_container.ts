import { AuditLog } from './audit/audit_log.js';
import type { Config } from './config/config.js';
import { buildDashboardServices, type DashboardServices } from './dashboard/index.js';
import type { Database } from './db/database.js';
import { API_KEY_CLIENT_ID, buildExchange, type ApiKeyExchange } from './exchange/index.js';
import { buildKeyServices, type KeyServices } from './keys/index.js';
import { InProcessBus, type EventBus } from './lib/bus.js';
import type { Logger } from './lib/logger.js';
import { Metrics } from './lib/metrics.js';
import { OidcServices } from './oidc/services.js';
import type { CircuitBreaker } from './lib/circuit_breaker.js';
import { type Clock, systemClock } from './lib/clock.js';
import { Lifecycle } from './lib/lifecycle.js';
import { connectSharedRedis, type RedisClient } from './lib/redis.js';
import { primaryReads, ReplicaReads, type StaleReads } from './db/replicas.js';
import { limitDeviceFlow } from './ratelimit/device_flow.js';
import { RateLimits } from './ratelimit/service.js';
import { ROUTES } from './oidc/configuration.js';
import { limitRegistrationPerAddress } from './ratelimit/registration.js';
import { apiKeyExchangeLimits, apiKeyUseLimit, clientTokenLimit, limitTokenRequestsPerClient, publicIntrospectionLimit } from './ratelimit/token_endpoint.js';


/**
 * Everything a request or a CLI command needs, built once at start and passed down. Domain
 * services know nothing of koa; routes reach them through `ctx.services`.
 */
export interface Services {
  readonly config: Config;
  readonly logger: Logger;
  /** The one source of wall-clock "now" for the services (src/lib/clock.ts); tests may move it. */
  readonly clock: Clock;
  readonly database: Database;
  readonly metrics: Metrics;
  readonly audit: AuditLog;
  /** Cross-instance invalidation messages (in-process, or Redis pub/sub with REDIS_URL). */
  readonly bus: EventBus;
  /** Agents, API keys and the one key verifier (src/keys). */
  readonly keys: KeyServices;
  /** OAuth 2.0 / OIDC core: the oidc-provider engine, users, clients, signing keys, token verification. */
  readonly oidc: OidcServices;
  /**
   * The shared Redis client when REDIS_URL is set (keys are prefixed with REDIS_PREFIX by the
   * client itself). It fails fast: any command may reject while Redis is away, so treat it as a
   * cache and fall back. See src/lib/redis.ts.
   */
  readonly redis: RedisClient | undefined;
  /**
   * With Redis: open after failed commands in a row; callers then skip Redis and answer from
   * memory at once until a background probe finds it answering (src/lib/circuit_breaker.ts).
   */
  readonly redisBreaker: CircuitBreaker | undefined;
  /**
   * Where stale-tolerant reads go (listings, usage charts, audit pages): the replicas of
   * DATABASE_REPLICA_URLS when set, else the primary. See src/db/replicas.ts, docs/scaling.md.
   */
  readonly staleReads: StaleReads & { usableReplicas?(): string[] };
  /** Serving or draining for shutdown (readiness, `Connection: close`). */
  readonly lifecycle: Lifecycle;
  /** Rate limits of docs/reference.md §5 (per API key, per client, per IP); shared through Redis when configured. */
  readonly rateLimits: RateLimits;
  /** The /dashboard web UI's own state: sign-in sessions, CSRF, per-key usage counts (src/dashboard). */
  readonly dashboard: DashboardServices;
  /** API key (+ session ID) → access token: /auth/login, the RFC 8693 grant, sessions (src/exchange). */
  readonly exchange: ApiKeyExchange;
  /** Called in reverse order at shutdown (timers, pools, Redis). */
  readonly closers: Array<() => Promise<void> | void>;
}

// `ctx.services` is this container (src/http/context.ts declares the field without importing this module).
declare module './http/context.js' {
  interface RequestServices extends Services {}
}

/** The replicas' round robin when DATABASE_REPLICA_URLS is set, else the primary for every read. */
async function openStaleReads(config: Config, database: Database, logger: Logger): Promise<StaleReads & { close?(): Promise<void>; usableReplicas?(): string[] }> {
  const { urls, maxLagSeconds } = config.databaseReplicas;
  if (urls.length === 0) return primaryReads(database.dataSource);
  return ReplicaReads.open(database.dataSource, urls, { logger, limits: config.databaseLimits, maxLagSeconds });
}

export async function buildServices(config: Config, logger: Logger, database: Database, options: { processMetrics?: boolean; clock?: Clock } = {}): Promise<Services> {
  const clock = options.clock ?? systemClock;
  const metrics = new Metrics({ processMetrics: options.processMetrics });
  const closers: Array<() => Promise<void> | void> = [];
  const staleReads = await openStaleReads(config, database, logger);
  closers.push(() => staleReads.close?.());
  const audit = new AuditLog(database.dataSource, logger, staleReads);
  const shared = config.redis ? await connectSharedRedis(config.redis, config.redisPrefix, logger) : undefined;
  const redis = shared?.redis;
  const redisBreaker = shared?.breaker;
  const bus: EventBus = shared?.bus ?? new InProcessBus();
  closers.push(() => (shared ? shared.close() : bus.close()));
  if (config.rateLimitPolicies.disabled) logger.warn('rate limits are disabled (RATE_LIMIT_DISABLED=true): nothing is counted or refused');

  const keys = buildKeyServices({ config, logger, database, audit, bus, staleReads, clock });
  const oidc = new OidcServices({ config, logger, database, metrics, audit, bus });
  const rateLimits = new RateLimits({ config, logger, redis, breaker: redisBreaker, clock });
  const exchange = buildExchange({
    config, logger, database, audit, bus, keys, oidc,
    grantLimits: apiKeyExchangeLimits({ rateLimits, metrics }),
    keyUseLimit: apiKeyUseLimit({ rateLimits, metrics }),
    clock,
  });
  const services: Services = {
    config,
    logger,
    clock,
    database,
    metrics,
    audit,
    bus,
    redis,
    redisBreaker,
    staleReads,
    lifecycle: new Lifecycle(clock),
    rateLimits,
    keys,
    oidc,
    exchange: exchange.exchange,
    dashboard: buildDashboardServices({ config, logger, database, keys, apiKeySessions: exchange.exchange.sessionDirectory, staleReads, clock }),
    closers,
  };
  // The dashboard shows each key's refused requests next to its usage.
  rateLimits.onApiKeyRejected((keyId) => services.dashboard.usage.recordRejection(keyId));
  // Introspection by public clients (no authentication) counts per caller address.
  services.oidc.publicIntrospectionLimit = publicIntrospectionLimit({ rateLimits, metrics });
  // Per-client limits at the token endpoint; `keyport-api-key` exchanges count per API key instead.
  const clientLimit = clientTokenLimit({ rateLimits, metrics }, (clientId) => clientId === API_KEY_CLIENT_ID);
  services.oidc.clientTokenLimit = clientLimit;
  services.oidc.extendProvider((provider) => limitTokenRequestsPerClient(provider, services, clientLimit));
  // RFC 8628: code entry per address on the verification page, slow_down for fast polling.
  if (config.deviceAndPar.deviceFlow) services.oidc.extendProvider((provider) => limitDeviceFlow(provider, services));
  if (services.oidc.registration.enabled) services.oidc.extendProvider((provider) => limitRegistrationPerAddress(provider, services, ROUTES.registration, config.clientRegistration.registrationPerIpPerMinute));
  // After the bus closer in the list, so they run before it: pending lastUsedAt and audit writes land first.
  closers.push(() => services.keys.close());
  closers.push(() => services.oidc.close());
  closers.push(() => services.dashboard.close());
  closers.push(() => exchange.close());
  return services;
}

export async function closeServices(services: Services): Promise<void> {
  for (const close of [...services.closers].reverse()) {
    try {
      await close();
    } catch (err) {
      services.logger.warn('error while shutting down', { err });
    }
  }
}
