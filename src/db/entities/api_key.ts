import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Agent } from './agent.js';

/**
 * An API key. The key itself is never stored: `hash` is HMAC-SHA-256 of it under a pepper
 * derived from KEYPORT_SECRET, so a copy of the database does not yield working keys.
 */
@Entity({ name: 'api_keys' })
@Index('idx_api_keys_agent', ['agentId'])
@Index('idx_api_keys_updated_at', ['updatedAt'])
export class ApiKey {
  /** `key_…` */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  /** Owning agent (`agent_…`). */
  @Column({ type: 'varchar', length: 40 })
  agentId: string;

  @ManyToOne(() => Agent, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'agentId' })
  agent?: Agent;

  /** Human label, e.g. "ci-deploy". */
  @Column({ type: 'varchar', length: 100 })
  name: string;

  /** The first 12 characters (`ak_live_AbCd`), or 8 of an agent access token (`agt_AbCd`): for display and support; not enough to use the key. */
  @Column({ type: 'varchar', length: 12 })
  prefix: string;

  /** keyedHash(pepper, key) as lowercase hex; verification looks keys up by it (unique index). */
  @Index('uq_api_keys_hash', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  hash: string;

  /** Granted scopes: a subset of read/write/delete/admin plus KEYPORT_EXTRA_SCOPES, limited by the access type. */
  @Column({ type: 'simple-json' })
  scopes: string[];

  /** `admin`, `integrations` or `transactional`: decides which scopes the key may hold. */
  @Column({ type: 'varchar', length: 16 })
  accessType: 'admin' | 'integrations' | 'transactional';

  /** `live` or `test` (from the key's `ak_live_` / `ak_test_` prefix); always `live` for an agent access token. */
  @Column({ type: 'varchar', length: 8 })
  env: 'live' | 'test';

  /** After this instant the key answers `expired_api_key`; null: never expires. */
  @Column({ type: 'datetime', nullable: true })
  expiresAt: Date | null;

  /** Canonical IPv4/IPv6 addresses and CIDR ranges the key may be used from; null: anywhere. */
  @Column({ type: 'simple-json', nullable: true })
  ipAllowList: string[] | null;

  /** Per-key overrides of RATE_LIMIT_PER_MIN / _PER_HOUR / _BURST; null: the configured default. */
  @Column({ type: 'int', nullable: true })
  rateLimitPerMinute: number | null;

  @Column({ type: 'int', nullable: true })
  rateLimitPerHour: number | null;

  @Column({ type: 'int', nullable: true })
  rateLimitBurst: number | null;

  /** Who to call about this key; defaults to the agent's contact. */
  @Column({ type: 'varchar', length: 254, nullable: true })
  contactEmail: string | null;

  @Column({ type: 'datetime' })
  createdAt: Date;

  /**
   * Last change of anything that decides validity (revocation, rotation). Instances poll it to
   * drop cached verifications changed by another process (e.g. the CLI) when there is no Redis.
   */
  @Column({ type: 'datetime' })
  updatedAt: Date;

  /** Updated at most about once a minute per key, in batches, never on the request path. */
  @Column({ type: 'datetime', nullable: true })
  lastUsedAt: Date | null;

  /** Stored status: `active` or `revoked`. `expired` is derived from `expiresAt` when reading. */
  @Column({ type: 'varchar', length: 16 })
  status: 'active' | 'revoked';

  @Column({ type: 'datetime', nullable: true })
  revokedAt: Date | null;

  /** Set on a rotated key: the successor's `key_…` id. */
  @Column({ type: 'varchar', length: 40, nullable: true })
  replacedBy: string | null;

  /** Set on a rotated key: it keeps working until this instant, then answers `revoked_api_key`. */
  @Column({ type: 'datetime', nullable: true })
  graceUntil: Date | null;

  /**
   * On an agent's current agent access token (`agt_…`): the agent's id; null on every other row
   * (`ak_` keys, rotated or revoked tokens). Unique, so an agent holds at most one current token
   * whatever races the service loses (both databases allow many NULLs in a unique index).
   */
  @Index('uq_api_keys_agent_token', { unique: true })
  @Column({ type: 'varchar', length: 40, nullable: true })
  agentTokenOf: string | null;
}
