import type { AuditLog } from '../audit/audit_log.js';
import { ClientService } from '../clients/client_service.js';
import { ClientUrlPolicy } from '../clients/url_policy.js';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { OidcPayloadTable } from '../db/stores/oidc_payloads.js';
import { TokenRevocationTable } from '../db/stores/token_revocations.js';
import { InProcessBus, type EventBus } from '../lib/bus.js';
import { deriveKey } from '../lib/crypto.js';
import type { Logger } from '../lib/logger.js';
import type { MetadataClientStore } from './metadata_clients.js';
import { UserService, type Actor } from '../users/user_service.js';
import { PayloadStore } from './adapter.js';
import { CLOCK_TOLERANCE, keyRetentionSeconds, maxAccessTokenTtl } from './policy.js';
import { ResourceServerStore } from './resource_servers.js';
import { RevocationRegistry } from './revocations.js';
import { SIGNING_KEYS_CHANNEL, SigningKeyStore, type SigningKeySummary } from './signing_keys.js';
import { tokenIdsFor, type TokenIds } from './token_ids.js';

/*
 * The OAuth core's stores, without the engine: what `OidcServices` is built from, and what the CLI
 * builds on its own (src/cli/dependencies.ts) so that a `keyport client:list` does not load
 * oidc-provider. Nothing here may import the engine (src/oidc/engine.ts, provider_host.ts, …) or
 * src/service_container.ts: test/cli/narrow_imports.test.ts checks what a listing command loads.
 */

/** The foundation each store is built from (each builder takes only what it uses). */
export interface OidcStoreDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly audit: AuditLog;
  readonly bus: EventBus;
}

/** How long a "not revoked" answer is kept (with Redis); the bus and the sweep, not this, bound staleness. */
const NEGATIVE_REVOCATION_CACHE_MS = 30_000;

/** How far past a client's deletion its tokens count as revoked: well beyond the client cache's sweep interval. */
const DELETED_CLIENT_GRACE_MS = 10_000;

export function buildUserService(deps: Pick<OidcStoreDependencies, 'config' | 'database' | 'audit'>): UserService {
  return new UserService(deps.database.dataSource, deps.config.bcryptRounds, deps.audit);
}

export function clientUrlPolicy(config: Pick<Config, 'production' | 'clientUrlAllowedCidrs'>): ClientUrlPolicy {
  return new ClientUrlPolicy({ production: config.production, allowedCidrs: config.clientUrlAllowedCidrs });
}

export function buildClientService(deps: OidcStoreDependencies, urls: ClientUrlPolicy = clientUrlPolicy(deps.config)): ClientService {
  // SQLite's change counter lets the client cache notice other processes' writes.
  const changeCounter = deps.database.changeCounter();
  return new ClientService(deps.database.dataSource, deriveKey(deps.config.secret, 'client-secret'), deps.audit, { bus: deps.bus, logger: deps.logger, changeCounter }, urls);
}

export function buildResourceServerStore(deps: Pick<OidcStoreDependencies, 'config' | 'database' | 'audit' | 'bus'>): ResourceServerStore {
  return new ResourceServerStore(deps.database.dataSource, deps.config.issuer, deps.bus, deps.audit);
}

export function buildSigningKeyStore(deps: Pick<OidcStoreDependencies, 'config' | 'database'>): SigningKeyStore {
  return new SigningKeyStore(deps.database.dataSource, deriveKey(deps.config.secret, 'signing-keys'), keyRetentionSeconds(deps.config));
}

/**
 * The revocation registry. "Not revoked" answers are cached where staleness can be detected
 * cheaply: a shared bus (Redis) or SQLite's change counter; see RevocationRegistry.
 */
export function buildRevocationRegistry(deps: Pick<OidcStoreDependencies, 'logger' | 'database' | 'bus'>): RevocationRegistry {
  return new RevocationRegistry(new TokenRevocationTable(deps.database.dataSource), deps.bus, deps.logger, {
    negativeCacheMs: NEGATIVE_REVOCATION_CACHE_MS,
    sharedBus: !(deps.bus instanceof InProcessBus),
    changeCounter: deps.database.changeCounter(),
  });
}

/** The engine's rows (opaque tokens, codes, grants, sessions); the engine reaches them through `adapterFor`. */
export function buildPayloadStore(
  deps: Pick<OidcStoreDependencies, 'config' | 'database'>,
  revocations: RevocationRegistry,
  tokenIds: TokenIds = tokenIdsFor(deps.config.secret),
  // Without the change counter: only the server's one table (services.ts) remembers reads; a second table on the same handle would not see its writes.
  table: OidcPayloadTable = new OidcPayloadTable(deps.database.dataSource),
): PayloadStore {
  return new PayloadStore(table, revocations, maxAccessTokenTtl(deps.config), tokenIds);
}

/**
 * The `clients.onDelete` hook: a deleted client's opaque tokens, codes and grants go; its JWTs are
 * refused from now on (a registry row every instance reads, and a bus message).
 */
export function endTokensOfDeletedClients(
  clients: ClientService,
  payloads: Pick<PayloadStore, 'deleteByClient'>,
  revocations: Pick<RevocationRegistry, 'revoke'>,
  config: Pick<Config, 'tokenTtl'>,
): void {
  const maxTtl = maxAccessTokenTtl(config);
  clients.onDelete(async (clientId) => {
    await payloads.deleteByClient(clientId);
    // Instances without Redis drop the client from their client cache within its sweep interval
    // (ClientCache); tokens they mint meanwhile are covered by dating the revocation later. Client
    // ids are never reused, so nothing legitimate is issued to this id afterwards.
    await revocations.revoke({ kind: 'client', value: clientId }, new Date(Date.now() + (maxTtl + CLOCK_TOLERANCE) * 1000), {
      coverIssuedUntil: new Date(Date.now() + DELETED_CLIENT_GRACE_MS),
    });
  });
}

/**
 * A blocked metadata client (client_metadata_documents.ts) loses its tokens at once: stored
 * codes, grants and refresh tokens go (client ids up to 64 characters are stored with the row),
 * JWTs are refused through the registry, and the engine refuses the client itself from now on.
 */
export function endTokensOfBlockedMetadataClients(
  store: Pick<MetadataClientStore, 'onBlock'>,
  payloads: Pick<PayloadStore, 'deleteByClient'>,
  revocations: Pick<RevocationRegistry, 'revoke'>,
  config: Pick<Config, 'tokenTtl'>,
): void {
  const maxTtl = maxAccessTokenTtl(config);
  store.onBlock(async (url) => {
    await payloads.deleteByClient(url);
    await revocations.revoke({ kind: 'client', value: url }, new Date(Date.now() + (maxTtl + CLOCK_TOLERANCE) * 1000));
  });
}

/** `keyport signing-key:rotate`: a new key signs from now on; every instance reloads (bus, or within a minute). */
export async function rotateSigningKey(
  deps: { readonly signingKeys: SigningKeyStore; readonly bus: EventBus; readonly audit: AuditLog },
  by: Actor = { actor: 'cli' },
): Promise<SigningKeySummary> {
  const { key, retired } = await deps.signingKeys.rotate();
  await deps.bus.publish(SIGNING_KEYS_CHANNEL, key.kid);
  await deps.audit.record({
    action: 'signing_key.rotated', actor: by.actor, ip: by.ip, targetType: 'signing_key', targetId: key.id,
    details: { kid: key.kid, alg: key.alg, retired_kids: retired.map((old) => old.kid) },
  });
  const summary = (await deps.signingKeys.list()).find((entry) => entry.id === key.id);
  if (!summary) throw new Error('rotated key not found');
  return summary;
}
