import type { DataSource, Repository } from 'typeorm';
import type { AuditLog } from '../audit/audit_log.js';
import { ResourceServer } from '../db/entities/resource_server.js';
import type { EventBus } from '../lib/bus.js';
import { Conflict, InvalidRequest, NotFound } from '../lib/errors.js';
import { BoundedCache } from '../lib/lru.js';
import type { Actor } from '../users/user_service.js';
import { DEFAULT_ACCESS_TOKEN_TTL, MAX_RESOURCE_SERVER_TTL, SCOPE_TOKEN, splitScope } from './policy.js';

export interface NewResourceServer {
  audience: string;
  format: 'jwt' | 'opaque';
  scopes?: string[];
  accessTokenTtl?: number;
}

/** What getResourceServerInfo needs about an audience. */
export interface ResourceServerPolicy {
  audience: string;
  format: 'jwt' | 'opaque';
  /** null: any scope the client may ask for. */
  scopes: string[] | null;
  accessTokenTtl: number;
}

export interface ResourceServerView {
  audience: string;
  format: 'jwt' | 'opaque';
  scope: string | null;
  access_token_ttl: number;
  default: boolean;
}

const CHANNEL = 'keyport.resource-servers';
const CACHE_MS = 30_000;
/**
 * Audiences whose answer is cached. Unknown ones are cached too (every `resource=` value a client
 * sends is looked up), so without a bound junk values would grow the cache without limit; least
 * recently used out, so the few real audiences, asked for all the time, stay.
 */
const CACHE_ENTRIES = 1_000;

/**
 * APIs that accept Keyport access tokens (RFC 8707 resource indicators). The issuer itself is
 * the built-in default audience (JWT, 1 h); `keyport resource:create` adds others, e.g. an API
 * that wants opaque tokens it introspects.
 */
export class ResourceServerStore {
  private readonly rows: Repository<ResourceServer>;
  /** Policies by audience (undefined: no such resource server), each trusted for CACHE_MS. */
  private readonly cache = new BoundedCache<string, { policy: ResourceServerPolicy | undefined }>({ maxEntries: CACHE_ENTRIES, ttlMs: CACHE_MS });

  constructor(dataSource: DataSource, readonly defaultAudience: string, private readonly bus: EventBus, private readonly audit: AuditLog) {
    this.rows = dataSource.getRepository(ResourceServer);
  }

  start(): () => void {
    return this.bus.subscribe(CHANNEL, (audience) => this.cache.delete(audience));
  }

  get defaultPolicy(): ResourceServerPolicy {
    return { audience: this.defaultAudience, format: 'jwt', scopes: null, accessTokenTtl: DEFAULT_ACCESS_TOKEN_TTL };
  }

  /** The policy for an audience, undefined when unknown (the engine then answers invalid_target). */
  async find(audience: string): Promise<ResourceServerPolicy | undefined> {
    if (audience === this.defaultAudience) return this.defaultPolicy;
    if (audience.length > 255) return undefined;
    const cached = this.cache.get(audience);
    if (cached) return cached.policy;
    const row = await this.rows.findOneBy({ audience });
    const policy = row ? { audience: row.audience, format: row.format, scopes: row.scope ? splitScope(row.scope) : null, accessTokenTtl: row.accessTokenTtl ?? DEFAULT_ACCESS_TOKEN_TTL } : undefined;
    this.cache.set(audience, { policy });
    return policy;
  }

  async create(input: NewResourceServer, by: Actor = { actor: 'cli' }): Promise<ResourceServer> {
    let parsed: URL;
    try {
      parsed = new URL(input.audience);
    } catch {
      throw new InvalidRequest(`The audience "${input.audience}" is not an absolute URI.`);
    }
    if (input.audience.length > 255) throw new InvalidRequest('The audience must be at most 255 characters.');
    if (parsed.hash || input.audience.includes('#')) throw new InvalidRequest('The audience must not contain a fragment (RFC 8707).');
    if (input.audience === this.defaultAudience) throw new Conflict('The issuer is the built-in default audience.');
    if (!['jwt', 'opaque'].includes(input.format)) throw new InvalidRequest('The format must be jwt or opaque.');
    const ttl = input.accessTokenTtl ?? DEFAULT_ACCESS_TOKEN_TTL;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_RESOURCE_SERVER_TTL) throw new InvalidRequest(`The TTL must be between 60 s and ${MAX_RESOURCE_SERVER_TTL} s.`);
    const scopes = input.scopes ? [...new Set(input.scopes)] : [];
    for (const scope of scopes) if (!SCOPE_TOKEN.test(scope)) throw new InvalidRequest(`Invalid scope "${scope}".`);
    if (await this.rows.existsBy({ audience: input.audience })) throw new Conflict(`A resource server for ${input.audience} already exists.`);

    const row = this.rows.create({
      audience: input.audience,
      format: input.format,
      scope: scopes.length ? scopes.join(' ') : null,
      accessTokenTtl: input.accessTokenTtl ?? null,
      createdAt: new Date(),
    });
    await this.rows.insert(row);
    await this.bus.publish(CHANNEL, row.audience);
    await this.audit.record({ action: 'resource_server.created', actor: by.actor, ip: by.ip, targetType: 'resource_server', targetId: row.audience.slice(0, 64), details: { audience: row.audience, format: row.format } });
    return row;
  }

  async list(): Promise<ResourceServerView[]> {
    const rows = await this.rows.find({ order: { createdAt: 'ASC' } });
    const builtIn = this.defaultPolicy;
    return [
      { audience: builtIn.audience, format: builtIn.format, scope: null, access_token_ttl: builtIn.accessTokenTtl, default: true },
      ...rows.map((row) => ({ audience: row.audience, format: row.format, scope: row.scope, access_token_ttl: row.accessTokenTtl ?? DEFAULT_ACCESS_TOKEN_TTL, default: false })),
    ];
  }

  async delete(audience: string, by: Actor = { actor: 'cli' }): Promise<void> {
    const result = await this.rows.delete({ audience });
    if (!result.affected) throw new NotFound(`No resource server for ${audience}.`);
    await this.bus.publish(CHANNEL, audience);
    await this.audit.record({ action: 'resource_server.deleted', actor: by.actor, ip: by.ip, targetType: 'resource_server', targetId: audience.slice(0, 64), details: { audience } });
  }
}
