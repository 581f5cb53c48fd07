import { In, LessThan, type DataSource, type Repository } from 'typeorm';
import { TokenRevocation } from '../db/entities/token_revocation.js';
import type { EventBus } from '../lib/bus.js';
import type { Logger } from '../lib/logger.js';

/**
 * What a revocation applies to. Kinds in use: `jti` (one token), `grant` (a token family),
 * `client` (a deleted client). Other features add their own (`session`, `api_key`, …).
 */
export interface RevocationKey {
  readonly kind: string;
  readonly value: string;
}

interface CachedRevocation {
  /** Epoch seconds; tokens with iat at or before it are revoked. */
  revokedAt: number;
  /** Epoch ms after which the entry is useless. */
  expiresAt: number;
}

const CHANNEL = 'keyport.revocations';
const MAX_CACHED = 10_000;
const MAX_VALUE_LENGTH = 191;

function cacheKey(key: RevocationKey): string {
  return `${key.kind}\u0000${key.value}`;
}

/**
 * The revocation registry for tokens the engine does not store (JWT access tokens, and anything
 * other features issue). A check is one indexed read of `token_revocations` for all of a token's
 * keys at once; known revocations are cached in-process, and every instance learns of a new one
 * through the event bus.
 */
export class RevocationRegistry {
  private readonly rows: Repository<TokenRevocation>;
  private readonly revoked = new Map<string, CachedRevocation>();
  /** "Not revoked" answers, kept only when the bus reaches every instance (REDIS_URL). */
  private readonly clear = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    dataSource: DataSource,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: { negativeCacheMs: number },
  ) {
    this.rows = dataSource.getRepository(TokenRevocation);
  }

  /** Listens for revocations made by other instances (and the CLI, when the bus is shared). */
  start(): void {
    this.unsubscribe ??= this.bus.subscribe(CHANNEL, (message) => {
      try {
        const { kind, value, revokedAt, expiresAt } = JSON.parse(message) as { kind: string; value: string; revokedAt: number; expiresAt: number };
        this.remember({ kind, value }, revokedAt, expiresAt);
      } catch (err) {
        this.logger.warn('ignored a malformed revocation message', { err });
      }
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /**
   * Records that tokens matching `key` and issued up to now are revoked until `expiresAt` (when
   * none of them can be alive any more). Idempotent; a later call moves the instant forward.
   */
  async revoke(key: RevocationKey, expiresAt: Date): Promise<void> {
    if (key.value.length > MAX_VALUE_LENGTH) throw new Error('revocation value too long');
    const revokedAt = new Date();
    await this.rows.upsert({ kind: key.kind, value: key.value, revokedAt, expiresAt }, ['value', 'kind']);
    const revokedAtSeconds = Math.ceil(revokedAt.getTime() / 1000);
    this.remember(key, revokedAtSeconds, expiresAt.getTime());
    await this.bus.publish(CHANNEL, JSON.stringify({ kind: key.kind, value: key.value, revokedAt: revokedAtSeconds, expiresAt: expiresAt.getTime() }));
  }

  /** True when any key was revoked at or after `issuedAt` (epoch seconds). */
  async isRevoked(keys: readonly RevocationKey[], issuedAt: number): Promise<boolean> {
    const now = Date.now();
    const unknown: RevocationKey[] = [];
    for (const key of keys) {
      const id = cacheKey(key);
      const cached = this.revoked.get(id);
      if (cached && cached.expiresAt > now && cached.revokedAt >= issuedAt) return true;
      const clearUntil = this.clear.get(id);
      if (clearUntil !== undefined && clearUntil > now) continue;
      unknown.push(key);
    }
    if (unknown.length === 0) return false;

    const found = await this.rows.find({
      select: { kind: true, value: true, revokedAt: true, expiresAt: true },
      where: { value: In([...new Set(unknown.map((key) => key.value))]) },
    });
    let revoked = false;
    const hit = new Set<string>();
    for (const row of found) {
      const key = { kind: row.kind, value: row.value };
      const id = cacheKey(key);
      if (!unknown.some((candidate) => cacheKey(candidate) === id)) continue;
      hit.add(id);
      const revokedAt = Math.ceil(row.revokedAt.getTime() / 1000);
      this.remember(key, revokedAt, row.expiresAt.getTime());
      if (row.expiresAt.getTime() > now && revokedAt >= issuedAt) revoked = true;
    }
    if (this.options.negativeCacheMs > 0) {
      for (const key of unknown) {
        const id = cacheKey(key);
        if (!hit.has(id)) this.setBounded(this.clear, id, now + this.options.negativeCacheMs);
      }
    }
    return revoked;
  }

  /** Removes rows no token can match any more; returns how many. */
  async deleteExpired(now = new Date()): Promise<number> {
    const result = await this.rows.delete({ expiresAt: LessThan(now) });
    for (const [id, entry] of this.revoked) if (entry.expiresAt <= now.getTime()) this.revoked.delete(id);
    return result.affected ?? 0;
  }

  private remember(key: RevocationKey, revokedAt: number, expiresAt: number): void {
    const id = cacheKey(key);
    this.clear.delete(id);
    const previous = this.revoked.get(id);
    if (previous && previous.revokedAt > revokedAt) return;
    this.setBounded(this.revoked, id, { revokedAt, expiresAt });
  }

  private setBounded<T>(map: Map<string, T>, id: string, value: T): void {
    map.delete(id);
    map.set(id, value);
    if (map.size > MAX_CACHED) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}
