import type { UserService } from '../users/user_service.js';
import type { Account, KoaContextWithOIDC } from './engine/index.js';

/**
 * Resolves an account id the engine stores in grants and tokens (`sub`). `source` is the token or
 * code the engine is redeeming (e.g. the refresh token), when there is one; `ctx` the engine's
 * request (the caller's address, for resolvers that judge where a credential is used from). A
 * resolver may throw an engine error to refuse with a reason of its own.
 */
export type AccountResolver = (accountId: string, source?: unknown, ctx?: KoaContextWithOIDC) => Promise<Account | undefined>;

/**
 * The engine's `findAccount`: users (`usr_…`) from the users table, and any other kind of subject
 * a feature registers by id prefix (e.g. agents, `agent_`, for tokens minted from API keys).
 */
export class AccountDirectory {
  private readonly resolvers = new Map<string, AccountResolver>();

  constructor(private readonly users: UserService) {
    this.register('usr_', async (accountId) => {
      const user = await this.users.findById(accountId);
      if (!user) return undefined;
      return {
        accountId: user.id,
        claims: async () => ({ sub: user.id, email: user.email }),
      };
    });
  }

  /** Adds a resolver for account ids starting with `prefix` (e.g. `agent_`). */
  register(prefix: string, resolver: AccountResolver): void {
    this.resolvers.set(prefix, resolver);
  }

  async find(accountId: string, source?: unknown, ctx?: KoaContextWithOIDC): Promise<Account | undefined> {
    if (typeof accountId !== 'string') return undefined;
    for (const [prefix, resolve] of this.resolvers) {
      if (accountId.startsWith(prefix)) return resolve(accountId, source, ctx);
    }
    return undefined;
  }
}
