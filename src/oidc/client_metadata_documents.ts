import type { ClientUrlPolicy } from '../clients/url_policy.js';
import type { ClientRegistrationSettings } from '../config/client_registration.js';
import { BoundedCache } from '../lib/lru.js';
import type { Logger } from '../lib/logger.js';
import { API_SCOPE_METADATA } from './policy.js';
import { CLIENT_ID_METADATA_DOCUMENT_ACK, errors, isMetadataDocumentClient, type EngineClient, type KoaContextWithOIDC, type Provider } from './engine/index.js';
import type { MetadataClientStore } from './metadata_clients.js';
import { isOpenRedirectUri } from './registration.js';

// Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, the MCP
// authorization spec's first choice): a client with no prior relationship uses the https URL of
// its metadata as client_id; the engine fetches and validates the document (client_id equal to
// the URL, no shared secrets, https URIs) and caches it per its caching headers within
// CACHE_DURATION. Keyport adds what the engine leaves to the deployment: which hosts may be
// fetched, the SSRF guard of the fetch itself (guarded_fetch.ts, same policy as jwks_uri), the
// content type, public clients only, no Keyport-specific metadata, the operator's block, and a
// row per client that obtained a grant (metadata_clients.ts). docs/oauth.md "Clients without
// prior registration".

/**
 * Bounds on how long a fetched document is reused, whatever its Cache-Control/Expires say
 * (seconds): a changed document (new redirect URIs) applies within the hour; a block applies at
 * once whatever is cached, since it is checked on every lookup.
 */
const CACHE_DURATION = { min: 60, max: 3600 } as const;
/** A client_id URL's length at most (it is a revocation-registry key and a primary key). */
export const MAX_CLIENT_ID_URL_LENGTH = 191;
/** Media types a metadata document may be served as. */
const JSON_MEDIA_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/** `host` matches `pattern`: the same name, or for `*.example.com` any subdomain of example.com. */
export function hostMatches(host: string, pattern: string): boolean {
  const name = host.toLowerCase();
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
  return name === pattern;
}

/** Whether the engine would treat this client id as a metadata-document URL (cheap pre-check). */
export function isClientIdUrl(id: unknown): id is string {
  return typeof id === 'string' && id.startsWith('https://');
}

export { isMetadataDocumentClient };

/**
 * Which client_id URLs may be fetched and which fetched clients may be used. One per process;
 * the engine's feature callbacks and the fetch wrapper are built from it for every provider.
 */
export class ClientMetadataDocuments {
  /** client_id URLs that passed `allowFetch` and are being fetched: the fetch checks their content type. */
  private readonly fetching = new BoundedCache<string, true>({ maxEntries: 1000, ttlMs: 10_000 });

  constructor(
    private readonly settings: ClientRegistrationSettings,
    private readonly urls: ClientUrlPolicy,
    readonly store: MetadataClientStore,
    private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return this.settings.metadataDocuments;
  }

  /** Why this client_id URL may not be fetched (host lists, length, literal private addresses); undefined when it may. */
  refusalForUrl(id: string): string | undefined {
    if (id.length > MAX_CLIENT_ID_URL_LENGTH) return `client_id URLs are limited to ${MAX_CLIENT_ID_URL_LENGTH} characters`;
    const url = URL.parse(id);
    if (url?.protocol !== 'https:') return 'the client_id URL must be https';
    if (url!.pathname === '/') return 'the client_id URL must have a path';
    const host = url!.hostname.toLowerCase();
    const { metadataAllowedHosts: allowed, metadataDeniedHosts: denied } = this.settings;
    if (denied.some((pattern) => hostMatches(host, pattern))) return `${host} is in CIMD_DENIED_HOSTS`;
    if (allowed.length > 0 && !allowed.some((pattern) => hostMatches(host, pattern))) return `${host} is not in CIMD_ALLOWED_HOSTS`;
    try {
      this.urls.checkRegistration(id, 'client_id');
    } catch (error) {
      return (error as Error).message;
    }
    return undefined;
  }

  /** Why a client built from a document may not be used; undefined when it may. */
  refusalForClient(client: EngineClient): string | undefined {
    // docs/reference.md §2: public clients only; PKCE S256 is then required (configuration.ts `pkce`).
    if (client.clientAuthMethod !== 'none') return 'a client ID metadata document client must be public (token_endpoint_auth_method "none")';
    // Keyport's own metadata (the API scopes a client may hold) is the operator's to give, never a document's.
    if ((client as unknown as Record<string, unknown>)[API_SCOPE_METADATA] !== undefined) return `${API_SCOPE_METADATA} is not allowed in a client ID metadata document`;
    // As for open dynamic registration: https, or http to this machine (a native client's loopback, RFC 8252 §7.3).
    if (!(client.redirectUris ?? []).every(isOpenRedirectUri)) return 'redirect_uris must be https, or http on 127.0.0.1, [::1] or localhost';
    const grants = client.grantTypes ?? [];
    if (grants.some((grant) => grant !== 'authorization_code' && grant !== 'refresh_token')) return 'a client ID metadata document client may only use authorization_code and refresh_token';
    return undefined;
  }

  /** The engine's `features.clientIdMetadataDocument`. */
  engineFeature(): Record<string, unknown> {
    if (!this.enabled) return { enabled: false };
    return {
      enabled: true,
      ack: CLIENT_ID_METADATA_DOCUMENT_ACK,
      cacheDuration: { ...CACHE_DURATION },
      allowFetch: async (ctx: KoaContextWithOIDC | undefined, id: string) => {
        const reason = this.refusalForUrl(id) ?? ((await this.store.isBlocked(id)) ? 'the client is blocked' : undefined);
        if (reason) {
          this.logger.debug('client_id metadata document refused', { request_id: requestIdOf(ctx), client_id: id.slice(0, 200), reason });
          throw new errors.InvalidClient('client_id metadata document fetch not allowed', reason);
        }
        this.fetching.set(id, true);
        return true;
      },
      allowClient: async (ctx: KoaContextWithOIDC | undefined, client: EngineClient) => {
        const reason = this.refusalForClient(client)
          ?? this.refusalForUrl(client.clientId)
          ?? ((await this.store.isBlocked(client.clientId)) ? 'the client is blocked' : undefined);
        if (!reason) return true;
        this.logger.debug('client_id metadata document client refused', { request_id: requestIdOf(ctx), client_id: client.clientId.slice(0, 200), reason });
        throw new errors.InvalidClientMetadata(reason);
      },
    };
  }

  /**
   * The engine's `fetch`, refusing a metadata document not served as JSON (the engine checks
   * size, status and shape, not the media type). Everything else passes unchanged.
   */
  wrapFetch(fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
    return async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!this.fetching.get(url)) return fetch(input, init);
      this.fetching.delete(url);
      const response = await fetch(input, init);
      const type = response.headers.get('content-type') ?? '';
      if (response.status === 200 && !JSON_MEDIA_TYPE.test(type)) {
        await response.body?.cancel();
        throw new Error(`client_id metadata document served as "${type.slice(0, 100)}", not JSON`);
      }
      return response;
    };
  }

  /**
   * Follows the engine: a metadata client that obtained tokens gets (or refreshes) its row.
   * Called once per provider.
   */
  observe(provider: Provider): void {
    provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
      const client = ctx.oidc?.client;
      if (!client || !isMetadataDocumentClient(client)) return;
      this.store.recordUse(client.clientId, client.clientName).catch((err: unknown) => {
        this.logger.warn('could not record the use of a metadata client', { request_id: requestIdOf(ctx), err });
      });
    });
  }
}

function requestIdOf(ctx: KoaContextWithOIDC | undefined): string | undefined {
  return (ctx?.state as { requestId?: string } | undefined)?.requestId;
}
