import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A signed-in dashboard user. The browser holds a random token in a cookie; the row holds only a
 * keyed hash of it, so a copy of the database does not yield a working session, and deleting the
 * row (sign-out, expiry) ends the session for real.
 */
@Entity({ name: 'dashboard_sessions' })
@Index('idx_dashboard_sessions_user', ['userId'])
@Index('idx_dashboard_sessions_expires_at', ['expiresAt'])
export class DashboardSession {
  /** `ses_…`: names the session in the audit trail without revealing the token. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  /** keyedHash(pepper, cookie token) as lowercase hex; every request looks the session up by it. */
  @Index('uq_dashboard_sessions_token_hash', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  tokenHash: string;

  /** The signed-in user (`usr_…`). */
  @Column({ type: 'varchar', length: 40 })
  userId: string;

  @Column({ type: 'datetime' })
  createdAt: Date;

  /** Last request seen, written at most about once a minute; the idle timeout counts from here. */
  @Column({ type: 'datetime' })
  lastSeenAt: Date;

  /** Absolute end of the session, however active it is. */
  @Column({ type: 'datetime' })
  expiresAt: Date;

  /** Address the session was opened from. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;
}
