import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Requests and rate-limit rejections of one API key in one clock hour (UTC), for the dashboard's
 * usage figures. Counted in memory and added here in batches, never one write per request.
 */
@Entity({ name: 'key_usage_hours' })
@Index('idx_key_usage_hours_hour', ['hourStart'])
export class KeyUsageHour {
  /** The API key (`key_…`). */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  keyId: string;

  /** Start of the hour, UTC, minutes and seconds zero. */
  @PrimaryColumn({ type: 'datetime' })
  hourStart: Date;

  /** Successful verifications of the key in that hour. */
  @Column({ type: 'int', default: 0 })
  requests: number;

  /** Requests the rate limiter refused in that hour (reported through `recordRejection`). */
  @Column({ type: 'int', default: 0 })
  rejections: number;
}
