import { AuditLog } from './audit/audit_log.js';
import type { Config } from './config/config.js';
import type { Database } from './db/database.js';
import { buildExchange } from './exchange/index.js';
import type { ExchangeService } from './exchange/exchange_service.js';
import { buildKeyServices, type KeyServices } from './keys/index.js';
import { InProcessBus, type EventBus } from './lib/bus.js';
import type { Logger } from './lib/logger.js';
import { Metrics } from './lib/metrics.js';
import { OidcServices } from './oidc/services.js';

/**
 * Everything a request or a CLI command needs, built once at start and passed down. Domain
 * services know nothing of koa; routes reach them through `ctx.services`.
 */
export interface Services {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly metrics: Metrics;
  readonly audit: AuditLog;
  /** Cross-instance invalidation messages (in-process, or Redis pub/sub with REDIS_URL). */
  readonly bus: EventBus;
  /** Agents, API keys and the one key verifier (src/keys). */
  readonly keys: KeyServices;
  /** OAuth 2.0 / OIDC core: the oidc-provider engine, users, clients, signing keys, token verification. */
  readonly oidc: OidcServices;
  /** API key (+ session ID) → access token: /auth/login, the RFC 8693 grant, sessions (src/exchange). */
  readonly exchange: ExchangeService;
  /** Called in reverse order at shutdown (timers, pools, Redis). */
  readonly closers: Array<() => Promise<void> | void>;
}

export async function buildServices(config: Config, logger: Logger, database: Database, options: { processMetrics?: boolean } = {}): Promise<Services> {
  const metrics = new Metrics({ processMetrics: options.processMetrics });
  const audit = new AuditLog(database.dataSource, logger);
  const bus = new InProcessBus();
  const keys = buildKeyServices({ config, logger, database, audit, bus });
  const oidc = new OidcServices({ config, logger, database, metrics, audit, bus });
  const exchange = buildExchange({ config, logger, database, audit, bus, keys, oidc });
  const services: Services = {
    config,
    logger,
    database,
    metrics,
    audit,
    bus,
    keys,
    oidc,
    exchange: exchange.exchange,
    closers: [],
  };
  services.closers.push(() => services.bus.close());
  // After the bus closer in the list, so they run before it: pending lastUsedAt and audit writes land first.
  services.closers.push(() => services.keys.close());
  services.closers.push(() => services.oidc.close());
  services.closers.push(() => exchange.close());
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
