import type { DataSource, Repository } from 'typeorm';
import type { AuditLog } from '../audit/audit_log.js';
import { MetadataClient } from '../db/entities/metadata_client.js';
import { type Clock, systemClock } from '../lib/clock.js';
import { NotFound } from '../lib/errors.js';
import type { Actor } from '../users/user_service.js';

/** How often a client's `lastUsedAt` is written at most: a busy client is not a write per token. */
const LAST_USE_RESOLUTION_MS = 60_000;
/** Entries of the "written recently" memory kept at most (oldest dropped first). */
const MAX_REMEMBERED_USES = 10_000;

/** The docs/reference.md §6 shape of a metadata client (`client:list --json`, the admin API, the dashboard). */
export interface MetadataClientView {
  client_id: string;
  host: string;
  client_name: string | null;
  first_used_at: string;
  last_used_at: string;
  blocked: boolean;
  blocked_at: string | null;
}

export function toMetadataClientView(row: MetadataClient): MetadataClientView {
  return {
    client_id: row.url,
    host: row.host,
    client_name: row.name,
    first_used_at: row.firstUsedAt.toISOString(),
    last_used_at: row.lastUsedAt.toISOString(),
    blocked: row.blockedAt !== null,
    blocked_at: row.blockedAt?.toISOString() ?? null,
  };
}

/** What blocking does besides the row: end the client's tokens (wired by OidcServices). */
export type MetadataClientBlockHook = (url: string) => Promise<void>;

/**
 * The `metadata_clients` table: every client known by a client ID metadata document that
 * obtained a grant (first and last use), and the operator's block. A blocked URL is refused
 * before any fetch and on every later lookup of the client (client_metadata_documents.ts).
 */
export class MetadataClientStore {
  private readonly rows: Repository<MetadataClient>;
  private readonly recentUses = new Map<string, number>();
  private readonly blockHooks: MetadataClientBlockHook[] = [];

  constructor(dataSource: DataSource, private readonly audit: AuditLog, private readonly clock: Clock = systemClock) {
    this.rows = dataSource.getRepository(MetadataClient);
  }

  /** Records that the client obtained a grant (first use creates the row; later uses move `lastUsedAt`, at most once a minute). */
  async recordUse(url: string, name: string | undefined): Promise<void> {
    const now = this.clock.now();
    const last = this.recentUses.get(url);
    if (last !== undefined && now - last < LAST_USE_RESOLUTION_MS) return;
    this.recentUses.delete(url);
    this.recentUses.set(url, now);
    if (this.recentUses.size > MAX_REMEMBERED_USES) this.recentUses.delete(this.recentUses.keys().next().value!);
    const at = new Date(now);
    const clientName = name?.slice(0, 128) ?? null;
    const updated = await this.rows.update({ url }, { lastUsedAt: at, name: clientName });
    if (updated.affected) return;
    // First use: insert; a concurrent first use on another instance wins the primary key, which is fine.
    await this.rows.createQueryBuilder().insert().into(MetadataClient)
      .values({ url, host: new URL(url).host, name: clientName, firstUsedAt: at, lastUsedAt: at, blockedAt: null })
      .orIgnore().execute();
  }

  async list(): Promise<MetadataClient[]> {
    return this.rows.find({ order: { firstUsedAt: 'ASC', url: 'ASC' } });
  }

  async get(url: string): Promise<MetadataClient | undefined> {
    if (typeof url !== 'string' || url.length === 0 || url.length > 191) return undefined;
    return (await this.rows.findOneBy({ url })) ?? undefined;
  }

  /** Whether an operator blocked this client_id URL (one primary-key read). */
  async isBlocked(url: string): Promise<boolean> {
    if (url.length > 191) return false;
    const row = await this.rows.findOne({ where: { url }, select: { url: true, blockedAt: true } });
    return row?.blockedAt != null;
  }

  /**
   * Blocks a client_id URL: it is not fetched, authorized or given tokens any more, and the
   * tokens it holds stop working at once (hooks). A URL never seen may be blocked in advance.
   */
  async block(url: string, by: Actor = { actor: 'cli' }): Promise<MetadataClient> {
    const parsed = URL.parse(url);
    if (parsed?.protocol !== 'https:' || url.length > 191) throw new NotFound(`No metadata client ${url.slice(0, 200)} (client ids of metadata clients are https URLs of at most 191 characters).`);
    const at = new Date(this.clock.now());
    const updated = await this.rows.update({ url }, { blockedAt: at });
    if (!updated.affected) {
      await this.rows.createQueryBuilder().insert().into(MetadataClient)
        .values({ url, host: parsed.host, name: null, firstUsedAt: at, lastUsedAt: at, blockedAt: at })
        .orIgnore().execute();
      await this.rows.update({ url }, { blockedAt: at });
    }
    for (const hook of this.blockHooks) await hook(url);
    await this.audit.record({ action: 'client.blocked', actor: by.actor, ip: by.ip, targetType: 'client', targetId: url, details: { host: parsed.host } });
    return (await this.get(url))!;
  }

  async unblock(url: string, by: Actor = { actor: 'cli' }): Promise<MetadataClient> {
    const row = await this.get(url);
    if (!row) throw new NotFound(`No metadata client ${url.slice(0, 200)}.`);
    await this.rows.update({ url }, { blockedAt: null });
    await this.audit.record({ action: 'client.unblocked', actor: by.actor, ip: by.ip, targetType: 'client', targetId: url, details: { host: row.host } });
    return { ...row, blockedAt: null };
  }

  onBlock(hook: MetadataClientBlockHook): void {
    this.blockHooks.push(hook);
  }
}
