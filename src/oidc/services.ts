import type { Services } from '../services.js';
import { ClientService } from '../clients/client_service.js';
import { ClientUrlPolicy } from '../clients/url_policy.js';
import type { Middleware } from '../http/context.js';
import { InProcessBus } from '../lib/bus.js';
import { deriveKey } from '../lib/crypto.js';
import { UserService, type Actor } from '../users/user_service.js';
import { AccessTokenService } from './access_tokens.js';
import { AccountDirectory } from './accounts.js';
import { PayloadStore } from './adapter.js';
import { ClientAdapter, compareHashedClientSecrets, reuseEngineClients } from './client_glue.js';
import { buildProviderConfiguration, ROUTES, type AccessTokenTtl, type ExtraTokenClaims } from './configuration.js';
import { ignoreQueryOnResume, type Provider } from './engine/index.js';
import { observeProvider } from './events.js';
import { lowSSigningKeys } from './low_s_signing_key.js';
import { guardedFetch } from './guarded_fetch.js';
import { TokenMinter } from './mint.js';
import { CLOCK_TOLERANCE, keyRetentionSeconds, maxAccessTokenTtl } from './policy.js';
import { ProviderHost, SIGNING_KEYS_CHANNEL, type ProviderSetup } from './provider_host.js';
import { ResourceServerStore } from './resource_servers.js';
import { RevocationRegistry } from './revocations.js';
import { SigningKeyStore, type SigningKeySummary } from './signing_keys.js';
import { installJwtIntrospectionStep, installStructuredTokenSupport, type PublicIntrospectionLimit } from './structured_tokens.js';
import { tokenIdsFor, type TokenIds } from './token_ids.js';
import { answerUnavailableDuringOutage } from './unavailable.js';

/** How long a "not revoked" answer is kept (with Redis); the bus and the sweep, not this, bound staleness. */
const NEGATIVE_REVOCATION_CACHE_MS = 30_000;

/** How far past a client's deletion its tokens count as revoked: well beyond the client cache's sweep interval. */
const DELETED_CLIENT_GRACE_MS = 10_000;

/** How often expired engine rows and revocation records are deleted. */
const CLEANUP_INTERVAL_MS = 10 * 60_000;

/** The foundation services the OAuth core is built from (a subset of `Services`). */
export type OidcDependencies = Pick<Services, 'config' | 'logger' | 'database' | 'metrics' | 'audit' | 'bus'>;

/**
 * The OAuth 2.0 / OIDC core (`services.oidc`): the oidc-provider engine and the stores around it.
 * Domain services (users, clients, resource servers, keys, revocations) work without the engine,
 * so the CLI can use them; the engine itself starts on `ready()` (the server warms it up at start).
 */
export class OidcServices {
  readonly users: UserService;
  readonly clients: ClientService;
  readonly accounts: AccountDirectory;
  readonly resourceServers: ResourceServerStore;
  readonly signingKeys: SigningKeyStore;
  readonly revocations: RevocationRegistry;
  readonly payloads: PayloadStore;
  readonly accessTokens: AccessTokenService;
  /** The keyed hash of engine token ids (row ids of opaque tokens, lineage of exchanged tokens). */
  readonly tokenIds: TokenIds;
  /** Mints engine tokens from custom grants (see mint.ts). */
  readonly tokens: TokenMinter;
  /** Per-address limit of introspection by callers that do not authenticate; set by the rate-limit feature. */
  publicIntrospectionLimit: PublicIntrospectionLimit | undefined;
  readonly host: ProviderHost;
  /** Hands `/oauth/*` and `/.well-known/*` to the provider (mounted by src/app.ts). */
  readonly middleware: Middleware;
  /** Secret for the CSRF tokens of the login and consent pages. */
  readonly csrfKey: Buffer;

  private readonly extraTokenClaims: ExtraTokenClaims[] = [];
  private readonly accessTokenTtls: AccessTokenTtl[] = [];
  private readonly stops: Array<() => void> = [];
  private cleanupTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: OidcDependencies) {
    const { config, database, bus, audit, logger } = deps;
    const dataSource = database.dataSource;
    const maxTtl = maxAccessTokenTtl(config);

    this.users = new UserService(dataSource, config.bcryptRounds, audit);
    // SQLite's change counter lets the client and revocation caches notice other processes' writes.
    const changeCounter = database.changeCounter();
    const clientUrls = new ClientUrlPolicy({ production: config.production, allowedCidrs: config.clientUrlAllowedCidrs });
    this.clients = new ClientService(dataSource, deriveKey(config.secret, 'client-secret'), audit, { bus, logger, changeCounter }, clientUrls);
    this.accounts = new AccountDirectory(this.users);
    this.resourceServers = new ResourceServerStore(dataSource, config.issuer, bus, audit);
    this.signingKeys = new SigningKeyStore(dataSource, deriveKey(config.secret, 'signing-keys'), keyRetentionSeconds(config));
    // "Not revoked" answers are cached where staleness can be detected cheaply: a shared bus
    // (Redis) or SQLite's change counter; see RevocationRegistry.
    this.revocations = new RevocationRegistry(dataSource, bus, logger, {
      negativeCacheMs: NEGATIVE_REVOCATION_CACHE_MS,
      sharedBus: !(bus instanceof InProcessBus),
      changeCounter,
    });
    this.tokenIds = tokenIdsFor(config.secret);
    this.payloads = new PayloadStore(dataSource, this.revocations, maxTtl, this.tokenIds);
    this.csrfKey = deriveKey(config.secret, 'interaction-csrf');

    // Before the first provider is built: providers copy the engine's endpoint steps when constructed.
    installJwtIntrospectionStep();
    const clientAdapter = new ClientAdapter(this.clients, () => this.host.registeredGrantTypes);
    const cookieKeys = [deriveKey(config.secret, 'cookie-signing').toString('base64url')];
    this.host = new ProviderHost({
      issuer: config.issuer,
      trustProxy: config.trustProxy,
      logger,
      bus,
      signingKeys: this.signingKeys,
      configure: (ring) => buildProviderConfiguration({
        config,
        cookieKeys,
        adapter: (model) => (model === 'Client' ? clientAdapter : this.payloads.adapterFor(model)),
        accounts: this.accounts,
        resourceServers: this.resourceServers,
        extraTokenClaims: this.extraTokenClaims,
        accessTokenTtls: this.accessTokenTtls,
        jwks: { keys: lowSSigningKeys(ring.privateJwks) },
        signingKid: ring.signingKid,
        fetch: guardedFetch(clientUrls),
      }),
      setup: (provider) => {
        compareHashedClientSecrets(provider, this.clients);
        reuseEngineClients(provider, this.clients);
        installStructuredTokenSupport(provider, this.accessTokens, () => this.publicIntrospectionLimit);
        answerUnavailableDuringOutage(provider, database);
        ignoreQueryOnResume(provider, ROUTES.authorization);
        observeProvider(provider, deps.metrics, logger);
      },
    });
    this.accessTokens = new AccessTokenService(this.host, this.revocations, this.payloads, config.issuer, maxTtl, this.tokenIds);
    this.tokens = new TokenMinter(this.host, this.resourceServers);
    this.middleware = this.host.middleware;

    // A deleted client's opaque tokens, codes and grants go; its JWTs are refused from now on.
    this.clients.onDelete(async (clientId) => {
      await this.payloads.deleteByClient(clientId);
      // Instances without Redis drop the client from their client cache within its sweep interval
      // (ClientCache); tokens they mint meanwhile are covered by dating the revocation later. Client
      // ids are never reused, so nothing legitimate is issued to this id afterwards.
      await this.revocations.revoke({ kind: 'client', value: clientId }, new Date(Date.now() + (maxTtl + CLOCK_TOLERANCE) * 1000), {
        coverIssuedUntil: new Date(Date.now() + DELETED_CLIENT_GRACE_MS),
      });
    });
  }

  /** The current oidc-provider instance (rebuilt on key rotation: do not keep a reference). */
  get provider(): Provider {
    return this.host.provider;
  }

  /**
   * Starts the engine: creates the first signing key on a fresh database, builds the provider,
   * and starts the key watcher, the revocation listener and the periodic clean-up.
   */
  async ready(): Promise<Provider> {
    const provider = await this.host.ready();
    if (!this.cleanupTimer && !this.closed) {
      this.revocations.start();
      this.stops.push(() => this.revocations.stop(), this.resourceServers.start(), this.clients.start());
      this.cleanupTimer = setInterval(() => { void this.cleanup(); }, CLEANUP_INTERVAL_MS);
      this.cleanupTimer.unref();
    }
    return provider;
  }

  /**
   * Runs `setup` on the provider now (when started) and after every rebuild: register grant
   * types (`provider.registerGrantType`), listeners (`provider.on`), pre-middleware (`provider.use`).
   */
  extendProvider(setup: ProviderSetup): void {
    this.host.extend(setup);
  }

  /** Adds claims to every access token (JWT payload; `extra` of opaque tokens, shown by introspection). */
  addExtraTokenClaims(contribute: ExtraTokenClaims): void {
    this.extraTokenClaims.push(contribute);
  }

  /** Lets a feature decide the lifetime of some access tokens (first answer wins; default: the resource server's TTL). */
  addAccessTokenTtl(decide: AccessTokenTtl): void {
    this.accessTokenTtls.push(decide);
  }

  /** `keyport signing-key:rotate`: a new key signs from now on; every instance reloads. */
  async rotateSigningKey(by: Actor = { actor: 'cli' }): Promise<SigningKeySummary> {
    const { key, retired } = await this.signingKeys.rotate();
    await this.deps.bus.publish(SIGNING_KEYS_CHANNEL, key.kid);
    await this.deps.audit.record({
      action: 'signing_key.rotated', actor: by.actor, ip: by.ip, targetType: 'signing_key', targetId: key.id,
      details: { kid: key.kid, alg: key.alg, retired_kids: retired.map((old) => old.kid) },
    });
    const summary = (await this.signingKeys.list()).find((entry) => entry.id === key.id);
    if (!summary) throw new Error('rotated key not found');
    return summary;
  }

  /** Deletes expired engine rows and revocation records. */
  async cleanup(): Promise<{ payloads: number; revocations: number }> {
    try {
      const now = new Date();
      const payloads = await this.payloads.deleteExpired(now);
      const revocations = await this.revocations.deleteExpired(now);
      if (payloads || revocations) this.deps.logger.debug('oidc clean-up', { payloads, revocations });
      return { payloads, revocations };
    } catch (err) {
      this.deps.logger.warn('oidc clean-up failed', { err });
      return { payloads: 0, revocations: 0 };
    }
  }

  close(): void {
    this.closed = true;
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    this.cleanupTimer = undefined;
    for (const stop of this.stops.splice(0)) stop();
    this.host.close();
  }
}
