import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The revocation registry for tokens the engine does not store (JWT access tokens). A token is
 * revoked when a row matches one of its keys (`jti`, `grant`, `client`, and kinds added by other
 * features such as `session` or `api_key`) and was written at or after the token's `iat`.
 */
@Entity({ name: 'token_revocations' })
@Index('idx_token_revocations_expires', ['expiresAt'])
@Index('idx_token_revocations_revoked', ['revokedAt'])
export class TokenRevocation {
  /** The revoked thing's identifier: a jti, a grant id, a client id… */
  @PrimaryColumn({ type: 'varchar', length: 191 })
  value: string;

  /** What `value` identifies: `jti`, `grant`, `client`, `session`, `api_key`… */
  @PrimaryColumn({ type: 'varchar', length: 32 })
  kind: string;

  /** Tokens issued at or before this instant are revoked; later ones (e.g. a re-used grant) are not. */
  @Column({ type: 'datetime' })
  revokedAt: Date;

  /** After this no token it could match is alive; the clean-up removes the row. */
  @Column({ type: 'datetime' })
  expiresAt: Date;
}
