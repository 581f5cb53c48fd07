import 'reflect-metadata';
import { resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { IsIn, IsInt, IsUrl, Matches, Max, Min, validateSync } from 'class-validator';
import { parseDatabaseUrl, type DatabaseTarget } from './database_url.js';
import { ConfigError } from './errors.js';
import { readBool, readEnum, readInt, readList, readString, type Env } from './parse.js';
import { readClientRegistrationSettings, type ClientRegistrationSettings } from './client_registration.js';
import { readRedisTarget, type RedisTarget } from './redis_target.js';
import { resolveSecret } from './secret.js';
import { BASE_SCOPES, SCOPE_NAME } from '../keys/scopes.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export const NODE_ENVS = ['development', 'production', 'test'] as const;

export interface RateLimitDefaults {
  /** Requests per key per minute (`RATE_LIMIT_PER_MIN`). */
  readonly perMinute: number;
  /** Requests per key per hour (`RATE_LIMIT_PER_HOUR`). */
  readonly perHour: number;
  /** Requests per key per 10-second burst window (`RATE_LIMIT_BURST`). */
  readonly burst: number;
}

/** The limits that are not per API key (docs/reference.md §5). Each counts in a one-minute window. */
export interface RateLimitPolicies {
  /** `RATE_LIMIT_DISABLED`: count nothing and refuse nothing (benchmarks only; logged at start). */
  readonly disabled: boolean;
  /** `RATE_LIMIT_CLIENT_PER_MIN`: token-endpoint requests per OAuth client per minute. */
  readonly clientPerMinute: number;
  /** `RATE_LIMIT_LOGIN_PER_IP`: login attempts per client IP per minute. */
  readonly loginPerIpPerMinute: number;
  /** `RATE_LIMIT_KEY_FAILURES_PER_IP`: failed API-key checks per client IP per minute before that IP gets 429. */
  readonly keyFailuresPerIpPerMinute: number;
  /**
   * `RATE_LIMIT_PUBLIC_INTROSPECTION_PER_IP`: introspection requests per client IP per minute by
   * callers that do not authenticate (public clients such as `keyport-api-key`).
   */
  readonly publicIntrospectionPerIpPerMinute: number;
  /**
   * `RATE_LIMIT_USER_CODE_PER_IP`: device-flow user-code submissions (code entry, confirmation)
   * per client IP per minute on the verification page (RFC 8628 §5.1: brute force of user codes).
   */
  readonly userCodeEntriesPerIpPerMinute?: number;
}

/** The device authorization grant (RFC 8628) and pushed authorization requests (RFC 9126). */
export interface DeviceAndParSettings {
  /** `DEVICE_FLOW`: serve the device authorization endpoint and the `device_code` grant (default on). */
  readonly deviceFlow: boolean;
  /** `PAR_REQUIRED`: every authorization request must be pushed first (default off: per client with `--require-par`). */
  readonly parRequired: boolean;
}

/**
 * Bounds on database work, so a stalled database answers 503 within the request budget instead
 * of piling up waiters (docs/operations.md). Each is below `REQUEST_TIMEOUT_MS`.
 */
export interface DatabaseLimits {
  /** `DB_POOL_SIZE`: connections per instance (MySQL); keep instances × this under `max_connections`. */
  readonly poolSize: number;
  /**
   * `DB_QUEUE_LIMIT`: requests that may wait for a pooled connection at once (MySQL); one more
   * is refused at once with 503. Default: 10 × `DB_POOL_SIZE`.
   */
  readonly queueLimit: number;
  /**
   * `DB_ACQUIRE_TIMEOUT_MS`: how long a query waits for a connection (MySQL: a pooled connection,
   * or a new one's handshake; SQLite: the write lock another process holds, as `busy_timeout`).
   */
  readonly acquireTimeoutMs: number;
  /** `DB_QUERY_TIMEOUT_MS`: how long one statement may wait for its answer (MySQL; the connection is dropped after). */
  readonly queryTimeoutMs: number;
}

export interface DatabaseReplicas {
  readonly urls: readonly string[];
  /** A replica further behind than this many seconds (or with replication stopped) serves nothing. */
  readonly maxLagSeconds: number;
}

/** Replicas are MySQL/MariaDB servers like the primary; `DATABASE_URL` must be one too. */
function readDatabaseReplicas(env: Env, primary: DatabaseTarget, cwd: string): DatabaseReplicas {
  const urls = readList(env, 'DATABASE_REPLICA_URLS').map((url) => {
    let target: DatabaseTarget;
    try {
      target = parseDatabaseUrl(url, cwd);
    } catch {
      throw new ConfigError('DATABASE_REPLICA_URLS', 'must list mysql:// URLs separated by commas');
    }
    if (target.type !== 'mysql') throw new ConfigError('DATABASE_REPLICA_URLS', 'must list mysql:// URLs separated by commas');
    return target.url;
  });
  if (urls.length > 0 && primary.type !== 'mysql') throw new ConfigError('DATABASE_REPLICA_URLS', 'needs a MySQL/MariaDB DATABASE_URL (replicas of it)');
  return Object.freeze({ urls: Object.freeze(urls), maxLagSeconds: readInt(env, 'DATABASE_REPLICA_MAX_LAG_S', 10, 0, 86_400) });
}

export const DEFAULT_DATABASE_LIMITS: DatabaseLimits = Object.freeze({ poolSize: 20, queueLimit: 200, acquireTimeoutMs: 1000, queryTimeoutMs: 3000 });

/**
 * Keyport's configuration: read from the environment once at start, validated, frozen and
 * passed down. Nothing below `main` reads `process.env`.
 */
export class Config {
  /** `NODE_ENV`; production makes `KEYPORT_SECRET` mandatory and turns `REQUIRE_HTTPS` on. */
  @IsIn(NODE_ENVS as unknown as string[]) readonly nodeEnv: (typeof NODE_ENVS)[number];
  /** `PORT`: TCP port to listen on (0 picks a free one, used by tests). */
  @IsInt() @Min(0) @Max(65535) readonly port: number;
  /** `HOST`: interface to listen on. */
  readonly host: string;
  /** `ISSUER`: the OAuth issuer identifier; discovery lives under it. */
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'must be an http(s) URL' })
  readonly issuer: string;
  /** `DATABASE_URL`, parsed. */
  readonly database: DatabaseTarget;
  /**
   * `DATABASE_REPLICA_URLS` (MySQL/MariaDB replicas of `DATABASE_URL`, same schema name) and
   * `DATABASE_REPLICA_MAX_LAG_S`: where stale-tolerant reads go (listings, usage, audit pages;
   * src/db/replicas.ts, docs/scaling.md). Empty: every read on the primary.
   */
  readonly databaseReplicas: DatabaseReplicas;
  /** `REDIS_URL`: when set, limits, caches and revocation are shared by all instances. */
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['redis', 'rediss'] }, { message: 'must be a redis:// URL' })
  readonly redisUrl: string | undefined;
  /**
   * The Redis deployment: `REDIS_URL` (one server), `REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`
   * (Sentinel) or `REDIS_CLUSTER_NODES` (Redis Cluster); unset without Redis. See redis_target.ts.
   */
  readonly redis: RedisTarget | undefined;
  /** `KEYPORT_SECRET`: root of every derived key (cookie keys, key-hash pepper, signing-key encryption). */
  readonly secret: string;
  /** `TOKEN_TTL`: lifetime in seconds of exchanged bearer tokens. */
  @IsInt() @Min(60) @Max(86_400 * 30) readonly tokenTtl: number;
  /** Default per-key limits; a key may override them. */
  readonly rateLimit: RateLimitDefaults;
  /** Per-client and per-IP limits, and the benchmark switch. */
  readonly rateLimitPolicies: RateLimitPolicies;
  /** `REDIS_PREFIX`: prepended to every Redis key and pub/sub channel, so several deployments can share one Redis. */
  @Matches(/^[A-Za-z0-9:_.-]{1,64}$/, { message: 'must be 1 to 64 characters of A-Z a-z 0-9 : _ . -' })
  readonly redisPrefix: string;
  /** `REQUIRE_HTTPS`: refuse plain-HTTP requests with 403 insecure_connection. */
  readonly requireHttps: boolean;
  /** `TRUST_PROXY`: honour X-Forwarded-For / X-Forwarded-Proto. */
  readonly trustProxy: boolean;
  /**
   * `KEYPORT_EXTRA_SCOPES`: comma-separated scopes API keys may hold besides read, write, delete
   * and admin (e.g. `billing,reports:export`). Lowercase names; `integrations` and `admin` keys may hold them.
   */
  readonly extraScopes: readonly string[];
  /**
   * `TRUST_PROXY_HOPS`: how many proxies in front of Keyport append to X-Forwarded-For. The
   * client address is read that many entries from the right, so a caller cannot pick its own
   * address (and its own rate-limit bucket) by sending a forged X-Forwarded-For.
   */
  readonly trustProxyHops: number;
  /** `ALLOW_QUERY_API_KEY`: accept `?access_token_query=`. Off by default: URLs end up in logs and histories. */
  readonly allowQueryApiKey: boolean;
  /**
   * `CLIENT_URL_ALLOWED_CIDRS`: ranges of private, loopback or link-local addresses that URLs
   * Keyport fetches for a client (its `jwks_uri`) may point at, e.g. an internal key server at
   * `10.20.0.0/16`. Empty by default: such URLs are refused at registration and at fetch time.
   */
  readonly clientUrlAllowedCidrs: readonly string[];
  /**
   * Clients without prior registration (MCP clients, agents): client ID metadata documents
   * (`CIMD_ENABLED`, `CIMD_ALLOWED_HOSTS`, `CIMD_DENIED_HOSTS`), dynamic registration
   * (`REGISTRATION_POLICY`, `REGISTERED_CLIENT_TTL`, `RATE_LIMIT_REGISTRATION_PER_IP`) and the
   * extra CAs for fetched client URLs (`CLIENT_URL_CA_FILE`). See client_registration.ts.
   */
  readonly clientRegistration: ClientRegistrationSettings;
  /** `CORS_ORIGINS`: origins allowed to call the token and exchange endpoints. */
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { each: true, message: 'must list http(s) origins' })
  readonly corsOrigins: readonly string[];
  /** `LOG_LEVEL`: winston level. */
  @IsIn(LOG_LEVELS as unknown as string[]) readonly logLevel: (typeof LOG_LEVELS)[number];
  /** `BCRYPT_ROUNDS`: cost of user-password hashes (tests lower it; production keeps 12). */
  @IsInt() @Min(4) @Max(15) readonly bcryptRounds: number;
  /** `DATA_DIR`: where the embedded database and the development secret live. */
  readonly dataDir: string;
  /** `TLS_CERT` / `TLS_KEY`: paths of a PEM certificate and key for native HTTPS. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /**
   * `REQUEST_TIMEOUT_MS`: every request's budget. When it runs out the client gets 503
   * `service_unavailable` (`temporarily_unavailable` under /oauth/) with Retry-After, never a hang.
   */
  readonly requestTimeoutMs: number;
  /** `DB_POOL_SIZE`, `DB_QUEUE_LIMIT`, `DB_ACQUIRE_TIMEOUT_MS`, `DB_QUERY_TIMEOUT_MS`. */
  readonly databaseLimits: DatabaseLimits;
  /**
   * `SHUTDOWN_GRACE_MS`: on SIGTERM/SIGINT the process drains (readiness off, no new connections,
   * in-flight requests finish, pools close, buffers flush) and exits within this.
   */
  readonly shutdownGraceMs: number;
  /** `DEVICE_FLOW`, `PAR_REQUIRED`. */
  readonly deviceAndPar: DeviceAndParSettings;

  get production(): boolean {
    return this.nodeEnv === 'production';
  }
}

const variableOf: Record<string, string> = {
  nodeEnv: 'NODE_ENV', port: 'PORT', issuer: 'ISSUER', redisUrl: 'REDIS_URL', tokenTtl: 'TOKEN_TTL',
  corsOrigins: 'CORS_ORIGINS', logLevel: 'LOG_LEVEL', bcryptRounds: 'BCRYPT_ROUNDS',
  redisPrefix: 'REDIS_PREFIX',
};

function readExtraScopes(env: Env): string[] {
  const scopes = [...new Set(readList(env, 'KEYPORT_EXTRA_SCOPES'))];
  for (const scope of scopes) {
    if (!SCOPE_NAME.test(scope)) throw new ConfigError('KEYPORT_EXTRA_SCOPES', `"${scope}" is not a scope name (lowercase letters, digits, _ . : -; starting with a letter)`);
    if ((BASE_SCOPES as readonly string[]).includes(scope)) throw new ConfigError('KEYPORT_EXTRA_SCOPES', `"${scope}" is built in; list only additional scopes`);
  }
  if (scopes.length > 50) throw new ConfigError('KEYPORT_EXTRA_SCOPES', 'at most 50 extra scopes');
  return scopes;
}

/**
 * `CORS_ORIGINS` entries are origins, compared exactly: scheme, host and port, nothing else. A
 * path, query or wildcard is a configuration mistake, not something to guess about.
 */
function parseOrigins(entries: readonly string[]): string[] {
  return entries.map((entry) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError('CORS_ORIGINS', `must list http(s) origins, got "${entry}"`);
    }
    if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password || url.search || url.hash || url.pathname !== '/' || entry.includes('*')) {
      throw new ConfigError('CORS_ORIGINS', `must list http(s) origins like https://app.example.com (scheme, host, optional port; no path or wildcard), got "${entry}"`);
    }
    return url.origin;
  });
}

/**
 * The time budgets nest: one statement's worst case (waiting for a connection, then for the
 * answer) ends before the request's budget, so a stalled database is a 503 from the database
 * layer, and every request ends before the shutdown grace does.
 */
function readTimeBudgets(env: Env): { requestTimeoutMs: number; databaseLimits: DatabaseLimits; shutdownGraceMs: number } {
  const requestTimeoutMs = readInt(env, 'REQUEST_TIMEOUT_MS', 5000, 100, 600_000);
  const poolSize = readInt(env, 'DB_POOL_SIZE', DEFAULT_DATABASE_LIMITS.poolSize, 1, 1000);
  const databaseLimits: DatabaseLimits = Object.freeze({
    poolSize,
    queueLimit: readInt(env, 'DB_QUEUE_LIMIT', poolSize * 10, 1, 1_000_000),
    acquireTimeoutMs: readInt(env, 'DB_ACQUIRE_TIMEOUT_MS', DEFAULT_DATABASE_LIMITS.acquireTimeoutMs, 10, 600_000),
    queryTimeoutMs: readInt(env, 'DB_QUERY_TIMEOUT_MS', DEFAULT_DATABASE_LIMITS.queryTimeoutMs, 10, 600_000),
  });
  const { acquireTimeoutMs, queryTimeoutMs } = databaseLimits;
  if (acquireTimeoutMs + queryTimeoutMs >= requestTimeoutMs) {
    // Name the variable the operator set: a lowered budget with the database defaults names the budget.
    const culprit = ['DB_QUERY_TIMEOUT_MS', 'DB_ACQUIRE_TIMEOUT_MS'].find((name) => readString(env, name) !== undefined) ?? 'REQUEST_TIMEOUT_MS';
    throw new ConfigError(culprit, `DB_ACQUIRE_TIMEOUT_MS + DB_QUERY_TIMEOUT_MS (${acquireTimeoutMs} + ${queryTimeoutMs} ms) must be below REQUEST_TIMEOUT_MS (${requestTimeoutMs} ms), so a stalled database answers within the request budget`);
  }
  const shutdownGraceMs = readInt(env, 'SHUTDOWN_GRACE_MS', 10_000, 1000, 3_600_000);
  if (shutdownGraceMs <= requestTimeoutMs) {
    throw new ConfigError('SHUTDOWN_GRACE_MS', `must be above REQUEST_TIMEOUT_MS (${requestTimeoutMs} ms) so in-flight requests can finish, got ${shutdownGraceMs}`);
  }
  return { requestTimeoutMs, databaseLimits, shutdownGraceMs };
}

/** `CLIENT_URL_ALLOWED_CIDRS` entries: IPv4 or IPv6 ranges in CIDR notation, normalised. */
function parseCidrs(name: string, entries: readonly string[]): string[] {
  return entries.map((entry) => {
    if (!ipaddr.isValidCIDR(entry)) throw new ConfigError(name, `must list CIDR ranges like 10.20.0.0/16 or fd00:ab::/48, got "${entry}"`);
    const [address, bits] = ipaddr.parseCIDR(entry);
    return `${address.toString()}/${bits}`;
  });
}

/** Reads, validates and freezes the configuration. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env, cwd: string = process.cwd()): Config {
  const nodeEnv = readEnum(env, 'NODE_ENV', 'development', NODE_ENVS);
  const production = nodeEnv === 'production';
  const port = readInt(env, 'PORT', 3000, 0, 65535);
  const dataDir = resolve(cwd, readString(env, 'DATA_DIR', './data'));
  const tlsCert = readString(env, 'TLS_CERT');
  const tlsKey = readString(env, 'TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(tlsCert === undefined ? 'TLS_CERT' : 'TLS_KEY', 'TLS_CERT and TLS_KEY must be set together');
  }

  const database = parseDatabaseUrl(readString(env, 'DATABASE_URL', `sqlite:${resolve(dataDir, 'keyport.db')}`), cwd);
  const config = Object.assign(new Config(), {
    nodeEnv,
    port,
    host: readString(env, 'HOST', '127.0.0.1'),
    issuer: readString(env, 'ISSUER', `http://localhost:${port}`).replace(/\/+$/, ''),
    database,
    databaseReplicas: readDatabaseReplicas(env, database, cwd),
    redisUrl: readString(env, 'REDIS_URL'),
    redis: readRedisTarget(env),
    secret: resolveSecret(readString(env, 'KEYPORT_SECRET'), production, resolve(dataDir, 'keyport.secret')),
    tokenTtl: readInt(env, 'TOKEN_TTL', 7200, 0, Number.MAX_SAFE_INTEGER),
    rateLimit: Object.freeze({
      perMinute: readInt(env, 'RATE_LIMIT_PER_MIN', 60, 1, 10_000_000),
      perHour: readInt(env, 'RATE_LIMIT_PER_HOUR', 1000, 1, 100_000_000),
      burst: readInt(env, 'RATE_LIMIT_BURST', 20, 1, 10_000_000),
    }),
    rateLimitPolicies: Object.freeze({
      disabled: readBool(env, 'RATE_LIMIT_DISABLED', false),
      clientPerMinute: readInt(env, 'RATE_LIMIT_CLIENT_PER_MIN', 600, 1, 10_000_000),
      loginPerIpPerMinute: readInt(env, 'RATE_LIMIT_LOGIN_PER_IP', 30, 1, 10_000_000),
      keyFailuresPerIpPerMinute: readInt(env, 'RATE_LIMIT_KEY_FAILURES_PER_IP', 20, 1, 10_000_000),
      publicIntrospectionPerIpPerMinute: readInt(env, 'RATE_LIMIT_PUBLIC_INTROSPECTION_PER_IP', 60, 1, 10_000_000),
      userCodeEntriesPerIpPerMinute: readInt(env, 'RATE_LIMIT_USER_CODE_PER_IP', 10, 1, 10_000_000),
    }),
    redisPrefix: readString(env, 'REDIS_PREFIX', 'keyport:'),
    requireHttps: readBool(env, 'REQUIRE_HTTPS', production),
    trustProxy: readBool(env, 'TRUST_PROXY', false),
    trustProxyHops: readInt(env, 'TRUST_PROXY_HOPS', 1, 1, 10),
    allowQueryApiKey: readBool(env, 'ALLOW_QUERY_API_KEY', false),
    extraScopes: Object.freeze(readExtraScopes(env)),
    corsOrigins: Object.freeze(parseOrigins(readList(env, 'CORS_ORIGINS'))),
    clientUrlAllowedCidrs: Object.freeze(parseCidrs('CLIENT_URL_ALLOWED_CIDRS', readList(env, 'CLIENT_URL_ALLOWED_CIDRS'))),
    clientRegistration: readClientRegistrationSettings(env, cwd),
    logLevel: readEnum(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    bcryptRounds: readInt(env, 'BCRYPT_ROUNDS', 12, 0, 99),
    dataDir,
    tls: tlsCert && tlsKey ? Object.freeze({ certFile: resolve(cwd, tlsCert), keyFile: resolve(cwd, tlsKey) }) : undefined,
    ...readTimeBudgets(env),
    deviceAndPar: Object.freeze({ deviceFlow: readBool(env, 'DEVICE_FLOW', true), parRequired: readBool(env, 'PAR_REQUIRED', false) }),
  });

  const [first] = validateSync(config, { skipMissingProperties: true, forbidUnknownValues: false });
  if (first) {
    const reason = Object.values(first.constraints ?? {})[0] ?? 'is invalid';
    throw new ConfigError(variableOf[first.property] ?? first.property, reason.replace(new RegExp(`^${first.property} `), ''));
  }
  if (production && config.issuer.startsWith('http://')) {
    throw new ConfigError('ISSUER', 'must be https when NODE_ENV=production');
  }
  return Object.freeze(config);
}
