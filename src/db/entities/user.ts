import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/** A person who signs in through the authorization-code flow. */
@Entity({ name: 'users' })
@Unique('uq_users_email', ['email'])
export class User {
  /** `usr_…`; also the `sub` of every token issued to this user. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  /** Lower-cased, unique. */
  @Column({ type: 'varchar', length: 254 })
  email: string;

  /** bcrypt hash (cost from BCRYPT_ROUNDS); never the password. */
  @Column({ type: 'varchar', length: 100 })
  passwordHash: string;

  /** May use the dashboard. */
  @Column({ type: 'boolean', default: false })
  isAdmin: boolean;

  @Column({ type: 'datetime' })
  createdAt: Date;
}
