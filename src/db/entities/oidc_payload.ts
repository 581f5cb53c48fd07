import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Everything oidc-provider persists (sessions, interactions, grants, codes, opaque tokens…), one
 * row per model instance. The payload is the engine's JSON; the indexed columns are copies of the
 * fields the adapter looks rows up by.
 */
@Entity({ name: 'oidc_payloads' })
@Index('idx_oidc_payloads_grant', ['grantId'])
@Index('idx_oidc_payloads_uid', ['uid'])
@Index('idx_oidc_payloads_user_code', ['userCode'])
@Index('idx_oidc_payloads_client', ['clientId'])
@Index('idx_oidc_payloads_expires', ['expiresAt'])
export class OidcPayload {
  /** The engine's model name: `Session`, `AccessToken`, `Grant`, … */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  model: string;

  /** The engine's id; for opaque tokens and codes, the token value itself. */
  @PrimaryColumn({ type: 'varchar', length: 191 })
  id: string;

  /** The engine's payload, JSON. */
  @Column({ type: 'text' })
  payload: string;

  /** For `revokeByGrantId`. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  grantId: string | null;

  /** Sessions are also found by uid. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  uid: string | null;

  /** Device codes are also found by user code. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  userCode: string | null;

  /** So deleting a client can delete its tokens, codes and grants. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  clientId: string | null;

  /** Rows past this are invisible and removed by the periodic clean-up. */
  @Column({ type: 'datetime', nullable: true })
  expiresAt: Date | null;

  /** Set when a code or refresh token is used; a second use is a replay. */
  @Column({ type: 'datetime', nullable: true })
  consumedAt: Date | null;
}
