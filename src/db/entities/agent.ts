import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A named service account that owns API keys. One agent holds several keys so they can rotate without downtime. */
@Entity({ name: 'agents' })
@Index('idx_agents_created_at', ['createdAt'])
export class Agent {
  /** `agent_…` (`agt_…` before migration 1733300000000). */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  /** Human label (not unique: two teams may both call theirs "ci"). */
  @Column({ type: 'varchar', length: 100 })
  name: string;

  /** Who to call when the agent misbehaves; the default contact of its keys. */
  @Column({ type: 'varchar', length: 254, nullable: true })
  contactEmail: string | null;

  /** `active` or `revoked`. Revoking an agent revokes every key it holds. */
  @Column({ type: 'varchar', length: 16 })
  status: 'active' | 'revoked';

  @Column({ type: 'datetime' })
  createdAt: Date;

  @Column({ type: 'datetime', nullable: true })
  revokedAt: Date | null;
}
