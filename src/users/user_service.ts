import { isEmail } from 'class-validator';
import type { DataSource, Repository } from 'typeorm';
import type { AuditLog } from '../audit/audit_log.js';
import { User } from '../db/entities/user.js';
import { Conflict, InvalidRequest, NotFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { PasswordHasher, passwordProblem } from './passwords.js';

export interface NewUser {
  email: string;
  password: string;
  isAdmin?: boolean;
}

/** Who did it, for the audit trail (`cli`, `user:usr_…`, …). */
export interface Actor {
  actor: string;
  ip?: string;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Login users: created by `keyport user:create`, checked by the login page. */
export class UserService {
  private readonly users: Repository<User>;
  private readonly passwords: PasswordHasher;

  constructor(dataSource: DataSource, bcryptRounds: number, private readonly audit: AuditLog) {
    this.users = dataSource.getRepository(User);
    this.passwords = new PasswordHasher(bcryptRounds);
  }

  async create(input: NewUser, by: Actor = { actor: 'cli' }): Promise<User> {
    const email = normalizeEmail(input.email);
    if (email.length > 254 || !isEmail(email)) throw new InvalidRequest('The email address is not valid.');
    const problem = passwordProblem(input.password);
    if (problem) throw new InvalidRequest(`Invalid password: ${problem}.`);
    if (await this.users.existsBy({ email })) throw new Conflict(`A user with email ${email} already exists.`);

    const user = this.users.create({
      id: newId('usr'),
      email,
      passwordHash: await this.passwords.hash(input.password),
      isAdmin: input.isAdmin ?? false,
      createdAt: new Date(),
    });
    try {
      await this.users.insert(user);
    } catch (err) {
      // Lost a race with an identical create: same answer as the check above.
      if (await this.users.existsBy({ email })) throw new Conflict(`A user with email ${email} already exists.`);
      throw err;
    }
    await this.audit.record({ action: 'user.created', actor: by.actor, ip: by.ip, targetType: 'user', targetId: user.id, details: { email, is_admin: user.isAdmin } });
    return user;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const normalized = normalizeEmail(email);
    if (normalized.length === 0 || normalized.length > 254) return undefined;
    return (await this.users.findOneBy({ email: normalized })) ?? undefined;
  }

  async findById(id: string): Promise<User | undefined> {
    if (!/^usr_[A-Za-z0-9]{1,36}$/.test(id)) return undefined;
    return (await this.users.findOneBy({ id })) ?? undefined;
  }

  /** By id (`usr_…`) or email; NotFound otherwise. */
  async get(idOrEmail: string): Promise<User> {
    const user = idOrEmail.startsWith('usr_') ? await this.findById(idOrEmail) : await this.findByEmail(idOrEmail);
    if (!user) throw new NotFound(`No user ${JSON.stringify(idOrEmail.slice(0, 254))}.`);
    return user;
  }

  /** A new password (same rules as at creation); the old one stops working at once. */
  async setPassword(idOrEmail: string, password: string, by: Actor = { actor: 'cli' }): Promise<User> {
    const problem = passwordProblem(password);
    if (problem) throw new InvalidRequest(`Invalid password: ${problem}.`);
    const user = await this.get(idOrEmail);
    const passwordHash = await this.passwords.hash(password);
    await this.users.update({ id: user.id }, { passwordHash });
    await this.audit.record({ action: 'user.password_changed', actor: by.actor, ip: by.ip, targetType: 'user', targetId: user.id, details: { email: user.email } });
    return { ...user, passwordHash };
  }

  /**
   * Deletes the user: sign-in stops, and so does everything that looks the account up again
   * (refresh tokens, userinfo, dashboard sessions). Access tokens already issued run until they expire.
   */
  async delete(idOrEmail: string, by: Actor = { actor: 'cli' }): Promise<User> {
    const user = await this.get(idOrEmail);
    await this.users.delete({ id: user.id });
    await this.audit.record({ action: 'user.deleted', actor: by.actor, ip: by.ip, targetType: 'user', targetId: user.id, details: { email: user.email } });
    return user;
  }

  async list(): Promise<User[]> {
    return this.users.find({ order: { createdAt: 'ASC' } });
  }

  /**
   * The user when the password matches, undefined otherwise. An unknown email costs the same
   * bcrypt work as a wrong password.
   */
  async verifyPassword(email: string, password: string): Promise<User | undefined> {
    if (password.length === 0 || Buffer.byteLength(password, 'utf8') > 1024) return undefined;
    const user = await this.findByEmail(email);
    if (!user) return this.passwords.burn(password).then(() => undefined);
    return (await this.passwords.verify(password, user.passwordHash)) ? user : undefined;
  }
}
