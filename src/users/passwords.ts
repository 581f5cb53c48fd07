import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; a longer password would be silently truncated, so it is refused. */
export const MAX_PASSWORD_BYTES = 72;
export const MIN_PASSWORD_LENGTH = 8;

/** Why a password is unacceptable, or undefined when it is fine. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `the password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return `the password must be at most ${MAX_PASSWORD_BYTES} bytes`;
  return undefined;
}

export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(private readonly rounds: number) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.rounds);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(password, hash);
  }

  /**
   * Spends the same bcrypt work as a real check when there is no such user, so response time does
   * not tell whether an email is registered.
   */
  async burn(password: string): Promise<false> {
    this.dummy ??= bcrypt.hash('keyport-no-such-user', this.rounds);
    await bcrypt.compare(password, await this.dummy);
    return false;
  }
}
