import { randomBytes } from 'node:crypto';
import { LessThan, type DataSource, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { AuditLog } from '../audit/audit_log.js';
import { OAuthClient } from '../db/entities/oauth_client.js';
import type { EventBus } from '../lib/bus.js';
import { constantTimeEqual, keyedHash } from '../lib/crypto.js';
import { Conflict, InvalidRequest, NotFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';
import { OIDC_SCOPES, SCOPE_TOKEN, splitScope } from '../oidc/policy.js';
import type { Actor } from '../users/user_service.js';
import { ClientCache } from './client_cache.js';
import { GRANT_TYPES, grantTypeValue } from './grant_types.js';
import type { ClientUrlPolicy } from './url_policy.js';

export type ClientAuthMethod = 'client_secret_basic' | 'private_key_jwt' | 'none';

export interface NewClient {
  name: string;
  /** CLI names (`authorization_code`, `token_exchange`, …) or OAuth values. */
  grantTypes: string[];
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  /** Allowed scopes; defaults depend on the grants (see `defaultScopes`). */
  scopes?: string[];
  /** A public client (no secret; PKCE required). */
  public?: boolean;
  /** private_key_jwt with these public keys… */
  jwks?: { keys: Array<Record<string, unknown>> };
  /** …or with keys fetched from this URL. */
  jwksUri?: string;
  /** RFC 9449: every token request must carry a DPoP proof; tokens are always DPoP-bound. */
  requireDpop?: boolean;
  /** RFC 9126: authorization requests only through the PAR endpoint (authorization_code clients). */
  requirePar?: boolean;
}

/** The docs/reference.md §6 shape of a client (what `client:create --json` and `client:list --json` print). */
export interface ClientView {
  client_id: string;
  client_name: string;
  grant_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scope: string;
  token_endpoint_auth_method: string;
  public: boolean;
  created_at: string;
  /** Present (true) only when the client must send DPoP proofs. */
  require_dpop?: true;
  /** Present (true) only when the client must push its authorization requests. */
  require_pushed_authorization_requests?: true;
  /** Only for clients registered through RFC 7591: `dynamic`. */
  registration?: 'dynamic';
  /** Only for dynamically registered clients with an expiry. */
  expires_at?: string;
}

/** Metadata of a client that exists outside the table (e.g. the built-in `keyport-api-key`). */
export type BuiltInClient = Record<string, unknown> & { client_id: string };

const MAX_URIS = 20;
/** Client rows kept for client authentication (see ClientCache): few clients, read on every token request. */
const CLIENT_CACHE = { ttlMs: 60_000, maxEntries: 1000 } as const;

function checkUri(uri: string, what: string): string {
  // The value is quoted whole and on one line (JSON escapes): the operator sees exactly what was
  // refused, a pasted newline or a second URI included.
  const quoted = JSON.stringify(uri);
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new InvalidRequest(`${what} ${quoted} is not an absolute URI.`);
  }
  if (uri.length > 2000) throw new InvalidRequest(`${what} ${JSON.stringify(uri.slice(0, 60))}… is too long (at most 2000 characters).`);
  // The URL parser drops tabs and newlines and encodes spaces; the engine compares the stored text
  // exactly, so such a URI would never match a request.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) throw new InvalidRequest(`${what} ${quoted} contains blanks or control characters (give one URI per entry).`);
  if (parsed.hash || uri.includes('#')) throw new InvalidRequest(`${what} ${quoted} must not contain a fragment.`);
  if (['javascript:', 'data:', 'file:', 'vbscript:'].includes(parsed.protocol)) throw new InvalidRequest(`${what} ${quoted} uses a forbidden scheme.`);
  return uri;
}

/** Scopes a client gets when `--scopes` is omitted. */
export function defaultScopes(grantTypes: readonly string[]): string[] {
  const scopes = ['read'];
  if (grantTypes.includes(GRANT_TYPES.authorization_code)) scopes.unshift('openid', 'email');
  if (grantTypes.includes(GRANT_TYPES.refresh_token)) scopes.push('offline_access');
  return scopes;
}

export function toClientView(client: OAuthClient): ClientView {
  return {
    client_id: client.id,
    client_name: client.name,
    grant_types: client.grantTypes,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    scope: client.scope,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    public: client.tokenEndpointAuthMethod === 'none',
    created_at: client.createdAt.toISOString(),
    ...(client.requireDpop ? { require_dpop: true as const } : {}),
    ...(client.requirePar ? { require_pushed_authorization_requests: true as const } : {}),
    ...(client.registration === 'dynamic' ? { registration: 'dynamic' as const } : {}),
    ...(client.registration === 'dynamic' && client.expiresAt ? { expires_at: client.expiresAt.toISOString() } : {}),
  };
}

/** A client as dynamic registration (RFC 7591/7592, src/oidc/registration.ts) stores it: the engine's validated metadata. */
export interface RegisteredClientMetadata {
  client_id: string;
  client_name?: string;
  /** Plaintext as the engine generated it, or the stored hash handed back on an update. */
  client_secret?: string;
  token_endpoint_auth_method?: string;
  grant_types?: string[];
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  scope?: string;
  jwks?: { keys: Array<Record<string, unknown>> };
  jwks_uri?: string;
}

/** Clean-up other parts of the system do when a client goes away. */
export type ClientDeletionHook = (clientId: string) => Promise<void>;

/**
 * OAuth clients in the database. Secrets are generated here, shown once, and stored as a keyed
 * hash; the engine compares against the hash (src/oidc/engine_clients.ts).
 */
export class ClientService {
  private readonly clients: Repository<OAuthClient>;
  private readonly builtIns = new Map<string, BuiltInClient>();
  private readonly deletionHooks: ClientDeletionHook[] = [];
  private readonly cache: ClientCache;

  constructor(
    dataSource: DataSource,
    private readonly pepper: Buffer,
    private readonly audit: AuditLog,
    deps: { bus: EventBus; logger: Logger; changeCounter?: () => number },
    /** Where Keyport may fetch a client's keys from (jwks_uri). */
    private readonly urlPolicy: ClientUrlPolicy,
  ) {
    this.clients = dataSource.getRepository(OAuthClient);
    this.cache = new ClientCache(this.clients, deps.bus, deps.logger, { ...CLIENT_CACHE, changeCounter: deps.changeCounter });
  }

  /** Starts listening for client changes made by other instances; returns the function that stops. */
  start(): () => void {
    return this.cache.start();
  }

  /** Whether `secret` is this client's secret (constant time). */
  secretMatches(secretHash: string, secret: string): boolean {
    return constantTimeEqual(secretHash, keyedHash(this.pepper, secret));
  }

  async create(input: NewClient, by: Actor = { actor: 'cli' }): Promise<{ client: OAuthClient; clientSecret?: string }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 128) throw new InvalidRequest('The client name must be 1 to 128 characters.');

    if (input.grantTypes.length === 0) throw new InvalidRequest('At least one grant type is required.');
    const grantTypes = [...new Set(input.grantTypes.map((grant) => {
      const value = grantTypeValue(grant);
      if (!value) throw new InvalidRequest(`Unknown grant type "${grant}" (use ${Object.keys(GRANT_TYPES).join(', ')}).`);
      return value;
    }))];

    const redirectUris = [...new Set((input.redirectUris ?? []).map((uri) => checkUri(uri, 'redirect URI')))];
    const postLogoutRedirectUris = [...new Set((input.postLogoutRedirectUris ?? []).map((uri) => checkUri(uri, 'post-logout redirect URI')))];
    if (redirectUris.length > MAX_URIS || postLogoutRedirectUris.length > MAX_URIS) throw new InvalidRequest(`At most ${MAX_URIS} redirect URIs.`);
    const codeFlow = grantTypes.includes(GRANT_TYPES.authorization_code);
    if (codeFlow && redirectUris.length === 0) throw new InvalidRequest('The authorization_code grant needs at least one --redirect-uri.');
    if (!codeFlow && redirectUris.length > 0) throw new InvalidRequest('--redirect-uri only applies to the authorization_code grant.');
    if (input.requirePar && !codeFlow) throw new InvalidRequest('--require-par only applies to the authorization_code grant.');

    const scopes = input.scopes && input.scopes.length > 0 ? [...new Set(input.scopes)] : defaultScopes(grantTypes);
    for (const scope of scopes) if (!SCOPE_TOKEN.test(scope)) throw new InvalidRequest(`Invalid scope "${scope}".`);
    const scope = scopes.join(' ');
    if (scope.length > 1000) throw new InvalidRequest('Too many scopes.');

    let method: ClientAuthMethod = 'client_secret_basic';
    if (input.public) {
      if (input.jwks || input.jwksUri) throw new InvalidRequest('A public client has no keys; drop --jwks/--jwks-uri or --public.');
      if (grantTypes.includes(GRANT_TYPES.client_credentials)) throw new InvalidRequest('A public client cannot use client_credentials (it has no credentials).');
      method = 'none';
    } else if (input.jwks || input.jwksUri) {
      if (input.jwks && input.jwksUri) throw new InvalidRequest('Use either --jwks or --jwks-uri, not both.');
      if (input.jwksUri) this.urlPolicy.checkRegistration(checkUri(input.jwksUri, 'JWKS URI'), 'JWKS URI');
      if (input.jwks && (!Array.isArray(input.jwks.keys) || input.jwks.keys.length === 0)) throw new InvalidRequest('The JWKS must have a non-empty "keys" array.');
      if (input.jwks?.keys.some((key) => typeof key !== 'object' || key === null || 'd' in key || key.kty === 'oct')) {
        throw new InvalidRequest('The JWKS must only hold public asymmetric keys.');
      }
      method = 'private_key_jwt';
    }

    const clientSecret = method === 'client_secret_basic' ? randomBytes(32).toString('base64url') : undefined;
    const client = this.clients.create({
      id: newId('cli'),
      name,
      secretHash: clientSecret ? keyedHash(this.pepper, clientSecret) : null,
      tokenEndpointAuthMethod: method,
      grantTypes,
      redirectUris,
      postLogoutRedirectUris,
      scope,
      jwks: input.jwks ?? null,
      jwksUri: input.jwksUri ?? null,
      requireDpop: input.requireDpop === true,
      requirePar: input.requirePar === true,
      createdAt: new Date(),
    });
    // insert, not save: save would SELECT first.
    await this.clients.insert(client as QueryDeepPartialEntity<OAuthClient>);
    await this.audit.record({
      action: 'client.created', actor: by.actor, ip: by.ip, targetType: 'client', targetId: client.id,
      details: { name, grant_types: grantTypes, token_endpoint_auth_method: method, ...(input.requireDpop ? { require_dpop: true } : {}), ...(input.requirePar ? { require_par: true } : {}) },
    });
    return { client, clientSecret };
  }

  async list(): Promise<OAuthClient[]> {
    return this.clients.find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  async get(id: string): Promise<OAuthClient | undefined> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 40) return undefined;
    return (await this.clients.findOneBy({ id })) ?? undefined;
  }

  /**
   * `get` through an in-process cache, for client authentication on every token and
   * introspection request. Changes made on this instance apply at once; those made elsewhere
   * within a quarter of a second (ClientCache). Management code reads with `get`.
   */
  async getForAuthentication(id: string): Promise<OAuthClient | undefined> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 40) return undefined;
    return this.cache.get(id);
  }

  /**
   * A new secret for a client that authenticates with one (shown once); the old secret stops
   * working at once. Tokens already issued stay valid: delete the client to end those too.
   */
  async rotateSecret(id: string, by: Actor = { actor: 'cli' }): Promise<{ client: OAuthClient; clientSecret: string }> {
    const client = await this.get(id);
    if (!client) throw new NotFound(`No client with id ${id}.`);
    if (client.tokenEndpointAuthMethod !== 'client_secret_basic' || client.secretHash === null) {
      throw new Conflict(`Client ${id} authenticates with ${client.tokenEndpointAuthMethod}; it has no secret to rotate.`);
    }
    const clientSecret = randomBytes(32).toString('base64url');
    const secretHash = keyedHash(this.pepper, clientSecret);
    // Compare-and-set on the old hash: of two concurrent rotations, one wins and the other is told.
    const result = await this.clients.update({ id, secretHash: client.secretHash }, { secretHash });
    if (result.affected !== 1) throw new Conflict(`Client ${id} changed while rotating its secret; try again.`);
    await this.cache.changed(id);
    await this.audit.record({ action: 'client.secret_rotated', actor: by.actor, ip: by.ip, targetType: 'client', targetId: id, details: { name: client.name } });
    return { client: { ...client, secretHash }, clientSecret };
  }

  /** Deletes the client; its tokens stop working at once (see `onDelete`). */
  async delete(id: string, by: Actor = { actor: 'cli' }): Promise<void> {
    const client = await this.get(id);
    if (!client) throw new NotFound(`No client with id ${id}.`);
    await this.clients.delete({ id });
    await this.cache.changed(id);
    for (const hook of this.deletionHooks) await hook(id);
    await this.audit.record({ action: 'client.deleted', actor: by.actor, ip: by.ip, targetType: 'client', targetId: id, details: { name: client.name } });
  }

  /**
   * Stores a client the engine registered (or updated) through dynamic registration, like every
   * client: the secret as a keyed hash (an update hands the stored hash back, which is kept), the
   * row marked `dynamic`, expiring `ttlSeconds` after registration (0: never).
   */
  async saveRegistered(metadata: RegisteredClientMetadata, ttlSeconds: number, now: Date = new Date()): Promise<OAuthClient> {
    const existing = await this.get(metadata.client_id);
    if (existing && existing.registration !== 'dynamic') throw new Conflict(`Client ${metadata.client_id} was not registered dynamically.`);
    const secret = metadata.client_secret;
    const secretHash = secret === undefined ? null : existing?.secretHash === secret ? secret : keyedHash(this.pepper, secret);
    const createdAt = existing?.createdAt ?? now;
    const row: OAuthClient = {
      id: metadata.client_id,
      name: (metadata.client_name ?? 'Registered client').slice(0, 128),
      secretHash,
      tokenEndpointAuthMethod: metadata.token_endpoint_auth_method ?? 'client_secret_basic',
      grantTypes: metadata.grant_types ?? ['authorization_code'],
      // Sender constraints are an operator's decision (client:create, the admin API), not a registrant's.
      requireDpop: existing?.requireDpop ?? false,
      requirePar: existing?.requirePar ?? false,
      redirectUris: metadata.redirect_uris ?? [],
      postLogoutRedirectUris: metadata.post_logout_redirect_uris ?? [],
      scope: (metadata.scope ?? '').slice(0, 1000),
      jwks: metadata.jwks ?? null,
      jwksUri: metadata.jwks_uri ?? null,
      createdAt,
      registration: 'dynamic',
      expiresAt: existing ? existing.expiresAt : ttlSeconds > 0 ? new Date(createdAt.getTime() + ttlSeconds * 1000) : null,
    };
    if (existing) await this.clients.update({ id: row.id }, row as QueryDeepPartialEntity<OAuthClient>);
    else await this.clients.insert(row as QueryDeepPartialEntity<OAuthClient>);
    await this.cache.changed(row.id);
    await this.audit.record({
      action: existing ? 'client.registration_updated' : 'client.registered', actor: 'registration', targetType: 'client', targetId: row.id,
      details: { name: row.name, grant_types: row.grantTypes, token_endpoint_auth_method: row.tokenEndpointAuthMethod },
    });
    return row;
  }

  /** Deletes the expired dynamically registered clients (their tokens end as on `delete`); returns how many. */
  async deleteExpiredRegistrations(now: Date = new Date()): Promise<number> {
    const expired = await this.clients.find({ where: { registration: 'dynamic', expiresAt: LessThan(now) }, select: { id: true } });
    for (const { id } of expired) await this.delete(id, { actor: 'expiry' }).catch(() => undefined);
    return expired.length;
  }

  onDelete(hook: ClientDeletionHook): void {
    this.deletionHooks.push(hook);
  }

  /**
   * Registers a client that lives in code rather than the table (e.g. the public client
   * `keyport-api-key` of the API-key exchange). Metadata is oidc-provider client metadata.
   */
  registerBuiltIn(metadata: BuiltInClient): void {
    this.builtIns.set(metadata.client_id, metadata);
  }

  builtIn(id: string): BuiltInClient | undefined {
    return this.builtIns.get(id);
  }

  /** OIDC scopes (handled by the engine) and API scopes (carried by access tokens) of a client. */
  static scopesOf(client: Pick<OAuthClient, 'scope'>): { oidc: string[]; api: string[] } {
    const all = splitScope(client.scope);
    return {
      oidc: all.filter((scope) => (OIDC_SCOPES as readonly string[]).includes(scope)),
      api: all.filter((scope) => !(OIDC_SCOPES as readonly string[]).includes(scope)),
    };
  }
}
