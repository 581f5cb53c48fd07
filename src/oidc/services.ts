import type { AuditLog } from '../audit/audit_log.js';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { EventBus } from '../lib/bus.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { ClientService } from '../clients/client_service.js';
import type { Middleware } from '../http/context.js';
import { deriveKey } from '../lib/crypto.js';
import type { UserService, Actor } from '../users/user_service.js';
import { AccessTokenService } from './access_tokens.js';
import { AccountDirectory } from './accounts.js';
import type { PayloadStore } from './adapter.js';
import { ClientAdapter, compareHashedClientSecrets, reuseEngineClients } from './engine_clients.js';
import { buildProviderConfiguration, ROUTES, type AccessTokenTtl, type ExtraTokenClaims } from './configuration.js';
import { ignoreQueryOnResume, replaceReplayDetection, type KoaContextWithOIDC, type Provider } from './engine/index.js';
import { DpopProofVerifier } from './dpop.js';
import { refuseFormsWithoutSession, statePollingInterval } from './device_flow.js';
import { DEVICE_CODE_GRANT } from '../clients/grant_types.js';
import { ProofReplayStore } from './proof_replay.js';
import { OidcPayloadTable } from '../db/stores/oidc_payloads.js';
import { epochSeconds } from '../lib/clock.js';
import { observeProvider } from './events.js';
import { lowSSigningKeys } from './low_s_signing_key.js';
import { SigningThread } from './signing_thread.js';
import { guardedFetch } from './guarded_fetch.js';
import { ClientMetadataDocuments } from './client_metadata_documents.js';
import { MetadataClientStore } from './metadata_clients.js';
import { DynamicRegistration, hideStoredClientSecrets } from './registration.js';
import { readFileSync } from 'node:fs';
import { maxAccessTokenTtl } from './policy.js';
import { ProviderHost, type ProviderSetup } from './provider_host.js';
import type { ResourceServerStore } from './resource_servers.js';
import type { RevocationRegistry } from './revocations.js';
import type { SigningKeyStore, SigningKeySummary } from './signing_keys.js';
import { buildClientService, buildPayloadStore, buildResourceServerStore, buildRevocationRegistry, buildSigningKeyStore, buildUserService, clientUrlPolicy, endTokensOfBlockedMetadataClients, endTokensOfDeletedClients, rotateSigningKey } from './stores.js';
import { installJwtIntrospectionStep, installStructuredTokenSupport, type PublicIntrospectionLimit } from './structured_tokens.js';
import { tokenIdsFor, type TokenIds } from './token_ids.js';
import { answerUnavailableDuringOutage } from './unavailable.js';
import type { ClientTokenLimit } from './client_credentials_fast_path.js';

/** How often expired engine rows and revocation records are deleted. */
const CLEANUP_INTERVAL_MS = 10 * 60_000;

/**
 * The foundation services the OAuth core is built from (a subset of the container's `Services`,
 * declared here so that this module does not import the container that imports it).
 */
export interface OidcDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly metrics: Metrics;
  readonly audit: AuditLog;
  readonly bus: EventBus;
}

/**
 * The OAuth 2.0 / OIDC core (`services.oidc`): the oidc-provider engine and the stores around it.
 * Domain services (users, clients, resource servers, keys, revocations) work without the engine,
 * so the CLI can use them; the engine itself starts on `ready()` (the server warms it up at start).
 */
export class OidcServices {
  readonly users: UserService;
  readonly clients: ClientService;
  /** Clients known by a client ID metadata document (an https URL as client_id). */
  readonly metadataDocuments: ClientMetadataDocuments;
  /** Dynamic client registration (RFC 7591/7592), when `REGISTRATION_POLICY` is not `closed`. */
  readonly registration: DynamicRegistration;
  readonly accounts: AccountDirectory;
  readonly resourceServers: ResourceServerStore;
  readonly signingKeys: SigningKeyStore;
  readonly revocations: RevocationRegistry;
  readonly payloads: PayloadStore;
  readonly accessTokens: AccessTokenService;
  /** The keyed hash of engine token ids (row ids of opaque tokens, lineage of exchanged tokens). */
  readonly tokenIds: TokenIds;
  /** Per-address limit of introspection by callers that do not authenticate; set by the rate-limit feature. */
  publicIntrospectionLimit: PublicIntrospectionLimit | undefined;
  /** The token endpoint's per-client limit, for the client-credentials fast path; set by the rate-limit feature. */
  clientTokenLimit: ClientTokenLimit | undefined;
  readonly host: ProviderHost;
  /** Hands `/oauth/*` and `/.well-known/*` to the provider (mounted by src/app.ts). */
  readonly middleware: Middleware<unknown>;
  /** Secret for the CSRF tokens of the login and consent pages. */
  readonly csrfKey: Buffer;
  /** One-time proofs (DPoP jtis, client-assertion jtis), shared by every instance through the database. */
  readonly proofReplays: ProofReplayStore;
  /** DPoP proofs at Keyport's own token issuers (`/auth/login`, the RFC 8693 grant). */
  readonly dpopProofs: DpopProofVerifier;

  private readonly extraTokenClaims: ExtraTokenClaims[] = [];
  private readonly accessTokenTtls: AccessTokenTtl[] = [];
  private readonly stops: Array<() => void> = [];
  /** Where every JWT the server issues is signed (signing_thread.ts); stopped by `close`. */
  private readonly signingThread: SigningThread;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: OidcDependencies) {
    const { config, database, bus, logger } = deps;
    const maxTtl = maxAccessTokenTtl(config);

    this.users = buildUserService(deps);
    const clientUrls = clientUrlPolicy(config);
    this.clients = buildClientService(deps, clientUrls);
    this.accounts = new AccountDirectory(this.users);
    this.resourceServers = buildResourceServerStore(deps);
    this.signingKeys = buildSigningKeyStore(deps);
    this.revocations = buildRevocationRegistry(deps);
    this.tokenIds = tokenIdsFor(config.secret);
    this.signingThread = new SigningThread(logger);
    // One oidc_payloads store serves the engine's rows and the one-time proof records (same table).
    const payloadTable = new OidcPayloadTable(database.dataSource, database.changeCounter());
    this.payloads = buildPayloadStore(deps, this.revocations, this.tokenIds, payloadTable);
    this.metadataDocuments = new ClientMetadataDocuments(config.clientRegistration, clientUrls, new MetadataClientStore(database.dataSource, deps.audit), logger);
    const caFile = config.clientRegistration.clientUrlCaFile;
    const fetch = this.metadataDocuments.wrapFetch(guardedFetch(clientUrls, undefined, caFile ? readFileSync(caFile, 'utf8') : undefined));
    this.csrfKey = deriveKey(config.secret, 'interaction-csrf');
    this.proofReplays = new ProofReplayStore(payloadTable, this.tokenIds);
    this.dpopProofs = new DpopProofVerifier(this.proofReplays);

    // Before the first provider is built: providers copy the engine's endpoint steps when constructed.
    installJwtIntrospectionStep();
    this.registration = new DynamicRegistration(config.clientRegistration, this.clients, clientUrls);
    const clientAdapter = new ClientAdapter(this.clients, () => this.host.registeredGrantTypes, this.registration.enabled ? this.registration : undefined);
    const dynamicRegistration = this.registration.enabled
      ? { features: this.registration.engineFeatures(), shape: (ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>) => this.registration.shapeRegistration(ctx, metadata) }
      : undefined;
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
        jwks: { keys: lowSSigningKeys(ring.privateJwks, this.signingThread) },
        signingKid: ring.signingKid,
        fetch,
        clientIdMetadataDocument: this.metadataDocuments.engineFeature(),
        dynamicRegistration,
      }),
      configuredGrantTypes: config.deviceAndPar.deviceFlow ? [DEVICE_CODE_GRANT] : [],
      setup: (provider) => {
        compareHashedClientSecrets(provider, this.clients);
        reuseEngineClients(provider, this.clients);
        installStructuredTokenSupport(provider, this.accessTokens, () => this.publicIntrospectionLimit);
        answerUnavailableDuringOutage(provider, database);
        ignoreQueryOnResume(provider, ROUTES.authorization);
        // The engine's DPoP and client-assertion replay checks use the same atomic store as Keyport's (proof_replay.ts).
        replaceReplayDetection(provider, (iss, jti, exp) => this.proofReplays.firstUse(iss, jti, exp - epochSeconds()));
        observeProvider(provider, deps.metrics, logger);
        if (config.deviceAndPar.deviceFlow) {
          statePollingInterval(provider, ROUTES.device_authorization);
          refuseFormsWithoutSession(provider, ROUTES.code_verification);
        }
        this.metadataDocuments.observe(provider);
        if (this.registration.enabled) hideStoredClientSecrets(provider, ROUTES.registration);
      },
    });
    this.accessTokens = new AccessTokenService(this.host, this.revocations, this.payloads, config.issuer, maxTtl, this.tokenIds);
    this.middleware = this.host.middleware;

    // A deleted client's opaque tokens, codes and grants go; its JWTs are refused from now on.
    endTokensOfDeletedClients(this.clients, this.payloads, this.revocations, config);
    endTokensOfBlockedMetadataClients(this.metadataDocuments.store, this.payloads, this.revocations, config);
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
    return rotateSigningKey({ signingKeys: this.signingKeys, bus: this.deps.bus, audit: this.deps.audit }, by);
  }

  /** Deletes expired engine rows and revocation records. */
  async cleanup(): Promise<{ payloads: number; revocations: number }> {
    try {
      const now = new Date();
      const payloads = await this.payloads.deleteExpired(now);
      const revocations = await this.revocations.deleteExpired(now);
      // Dynamically registered clients past REGISTERED_CLIENT_TTL (unusable already; their tokens end with them).
      const registrations = this.registration.enabled ? await this.clients.deleteExpiredRegistrations(now) : 0;
      if (payloads || revocations || registrations) this.deps.logger.debug('oidc clean-up', { payloads, revocations, registrations });
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
    void this.signingThread.close();
  }
}
