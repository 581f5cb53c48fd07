import { ClientService, type RegisteredClientMetadata } from '../clients/client_service.js';
import type { OAuthClient } from '../db/entities/oauth_client.js';
import { isClientIdUrl } from './client_metadata_documents.js';
import { API_SCOPE_METADATA } from './policy.js';
import { replaceClientSecretComparison, wrapClientFind, type Adapter, type AdapterPayload, type EngineClient, type Provider } from './engine/index.js';

// Keyport's OAuth clients (src/clients, `oauth_clients`) as the engine sees them: their metadata,
// the engine's `Client` adapter, secrets compared as keyed hashes, and engine clients reused while
// their row is unchanged.

/** A dynamically registered client past its expiry is unknown to the engine (ClientService deletes it later). */
function isUsable(client: OAuthClient): boolean {
  return client.expiresAt === null || client.expiresAt === undefined || client.expiresAt.getTime() > Date.now();
}

/** The engine's view of a stored client. */
export function engineMetadata(client: OAuthClient, registeredGrantTypes: ReadonlySet<string>): AdapterPayload {
  const { oidc, api } = ClientService.scopesOf(client);
  // A client may list a grant the engine does not know yet (token exchange is registered by the
  // API-key feature); the engine rejects unknown grant types in client metadata, which would make
  // the whole client unusable, so only registered grants are passed on.
  const grantTypes = client.grantTypes.filter((grant) => registeredGrantTypes.has(grant));
  const codeFlow = grantTypes.includes('authorization_code');
  return {
    client_id: client.id,
    client_name: client.name,
    client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
    ...(client.secretHash ? { client_secret: client.secretHash, client_secret_expires_at: 0 } : {}),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod as AdapterPayload['token_endpoint_auth_method'],
    grant_types: grantTypes,
    response_types: codeFlow ? ['code'] : [],
    redirect_uris: codeFlow ? client.redirectUris : [],
    post_logout_redirect_uris: codeFlow ? client.postLogoutRedirectUris : [],
    // Native apps use loopback or private-scheme redirect URIs (RFC 8252).
    application_type: client.redirectUris.some((uri) => !/^https?:/i.test(uri) || /^http:\/\/(127\.0\.0\.1|\[::1\])(:\d+)?\//i.test(uri)) ? 'native' : 'web',
    // An empty engine `scope` would mean "any OIDC scope"; a client without OIDC scopes gets none.
    scope: oidc.length ? oidc.join(' ') : undefined,
    [API_SCOPE_METADATA]: api.join(' '),
    ...(client.jwks ? { jwks: client.jwks as unknown as AdapterPayload['jwks'] } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    // RFC 9449 §5.2 and RFC 9126 §6: the engine enforces both (token endpoint; authorization endpoint).
    ...(client.requireDpop ? { dpop_bound_access_tokens: true } : {}),
    ...(client.requirePar && codeFlow ? { require_pushed_authorization_requests: true } : {}),
  };
}

/**
 * The engine's `Client` model adapter: reads clients from the table (and built-in clients from
 * memory). Dynamic registration is off, so the engine never writes clients.
 */
export class ClientAdapter implements Adapter {
  constructor(
    private readonly clients: ClientService,
    private readonly registeredGrantTypes: () => ReadonlySet<string>,
    /** Where the engine's dynamic registration writes (registration.ts); absent: registration is closed. */
    private readonly registration?: { store(metadata: RegisteredClientMetadata): Promise<void>; remove(id: string): Promise<void> },
  ) {}

  async find(id: string): Promise<AdapterPayload | undefined> {
    const builtIn = this.clients.builtIn(id);
    if (builtIn) return { ...builtIn } as AdapterPayload;
    const client = await this.clients.getForAuthentication(id);
    return client && isUsable(client) ? engineMetadata(client, this.registeredGrantTypes()) : undefined;
  }

  async upsert(_id: string, payload: AdapterPayload): Promise<void> {
    if (!this.registration) throw new Error('clients are managed by keyport client:create');
    await this.registration.store(payload as unknown as RegisteredClientMetadata);
  }
  async findByUid(): Promise<undefined> { return undefined; }
  async findByUserCode(): Promise<undefined> { return undefined; }
  async consume(): Promise<void> { throw new Error('clients are not consumable'); }
  async destroy(id: string): Promise<void> {
    if (!this.registration) throw new Error('clients are managed by keyport client:delete');
    await this.registration.remove(id);
  }
  async revokeByGrantId(): Promise<void> {}
}

/**
 * The stored `client_secret` is a keyed hash; the engine's constant-time comparison is redirected
 * to compare hashes.
 */
export function compareHashedClientSecrets(provider: Provider, clients: ClientService): void {
  replaceClientSecretComparison(provider, (stored, actual) => {
    if (typeof stored !== 'string' || typeof actual !== 'string' || actual.length === 0 || actual.length > 512) return false;
    return clients.secretMatches(stored, actual);
  });
}

/**
 * The engine looks a client up on every token and introspection request: it asks the adapter,
 * then hashes the JSON of the metadata (sha256) to find the Client instance it built for it
 * before. Profiles of client credentials showed that lookup (JSON, hash, metadata object) as one
 * of the larger per-request costs. While ClientCache keeps a client's row, it hands out the same
 * row object, so the instance built for that object is reused; a changed or deleted client is a
 * new row object (or none) and goes through the engine again. Per provider, as instances are.
 * (The patch of `Client.find` itself is the seam in engine/client_lookup.ts.)
 */
export function reuseEngineClients(provider: Provider, clients: ClientService): void {
  const built = new WeakMap<OAuthClient, EngineClient>();
  wrapClientFind(provider, async function findReusingClients(id, find) {
    if (typeof id !== 'string' || clients.builtIn(id)) return find(id);
    const row = await clients.getForAuthentication(id);
    // No row: unknown to the adapter too (no static clients), so the engine would answer the
    // same, except for an https URL, which the engine may resolve as a client ID metadata
    // document (client_metadata_documents.ts; it caches those clients itself).
    if (!row) return isClientIdUrl(id) ? find(id) : undefined;
    if (!isUsable(row)) return undefined;
    const reused = built.get(row);
    if (reused) return reused;
    const client = await find(id);
    if (client) built.set(row, client);
    return client;
  });
}
