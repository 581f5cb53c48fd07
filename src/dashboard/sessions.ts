import { randomBytes } from 'node:crypto';
import { LessThan, type DataSource, type Repository } from 'typeorm';
import { DashboardSession } from '../db/entities/dashboard_session.js';
import { keyedHash } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';

/** A session unused this long ends (the next request goes to the sign-in page). */
export const SESSION_IDLE_TIMEOUT_MS = 30 * 60_000;
/** However busy, a session ends this long after sign-in. */
export const SESSION_MAX_AGE_MS = 12 * 3_600_000;
/** `lastSeenAt` is rewritten at most this often: a page view is not worth a write each time. */
const TOUCH_EVERY_MS = 60_000;

/** 32 random bytes in base64url: what the cookie carries. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export interface SessionTimeouts {
  readonly idleTimeoutMs: number;
  readonly maxAgeMs: number;
}

/** A live session. `token` is the cookie value: never stored, never logged. */
export interface OpenedSession {
  readonly token: string;
  readonly session: DashboardSession;
}

/**
 * Dashboard sign-in sessions, kept server-side: the cookie holds a random token and the table a
 * keyed hash of it, so signing out or timing out deletes the row and the cookie is worthless.
 */
export class DashboardSessionStore {
  private readonly sessions: Repository<DashboardSession>;

  constructor(dataSource: DataSource, private readonly pepper: Buffer, readonly timeouts: SessionTimeouts = { idleTimeoutMs: SESSION_IDLE_TIMEOUT_MS, maxAgeMs: SESSION_MAX_AGE_MS }) {
    this.sessions = dataSource.getRepository(DashboardSession);
  }

  /** A new session for a user who just proved their password (fresh token: no fixation). */
  async open(userId: string, ip: string | undefined, now: number = Date.now()): Promise<OpenedSession> {
    await this.prune(now);
    const token = randomBytes(32).toString('base64url');
    const session = this.sessions.create({
      id: newId('ses'),
      tokenHash: keyedHash(this.pepper, token),
      userId,
      createdAt: new Date(now),
      lastSeenAt: new Date(now),
      expiresAt: new Date(now + this.timeouts.maxAgeMs),
      ip: ip?.slice(0, 64) ?? null,
    });
    await this.sessions.insert(session);
    return { token, session };
  }

  /** The live session for a cookie value, or undefined (unknown, signed out, idle too long, too old). */
  async resolve(token: string | undefined, now: number = Date.now()): Promise<DashboardSession | undefined> {
    if (!token || !TOKEN_SHAPE.test(token)) return undefined;
    const session = await this.sessions.findOneBy({ tokenHash: keyedHash(this.pepper, token) });
    if (!session) return undefined;
    if (session.expiresAt.getTime() <= now || session.lastSeenAt.getTime() + this.timeouts.idleTimeoutMs <= now) {
      await this.sessions.delete({ id: session.id });
      return undefined;
    }
    if (now - session.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
      session.lastSeenAt = new Date(now);
      await this.sessions.update({ id: session.id }, { lastSeenAt: session.lastSeenAt });
    }
    return session;
  }

  /** Signs out: the row goes, so the cookie stops working everywhere at once. */
  async close(sessionId: string): Promise<void> {
    await this.sessions.delete({ id: sessionId });
  }

  /** Ends every session of a user (e.g. when they lose the admin flag). */
  async closeAllOf(userId: string): Promise<number> {
    const result = await this.sessions.delete({ userId });
    return result.affected ?? 0;
  }

  /** Deletes sessions past their absolute end or idle for longer than the timeout. */
  async prune(now: number = Date.now()): Promise<void> {
    await this.sessions.delete({ expiresAt: LessThan(new Date(now)) });
    await this.sessions.delete({ lastSeenAt: LessThan(new Date(now - this.timeouts.idleTimeoutMs)) });
  }
}
