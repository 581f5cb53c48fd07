import { GRANT_TYPES } from '../clients/grant_types.js';
import type { ApiKeySession } from '../db/entities/api_key_session.js';
import { type Clock, epochSeconds, systemClock } from '../lib/clock.js';
import { InvalidRequest, InvalidToken } from '../lib/errors.js';
import { ROUTES } from '../oidc/configuration.js';
import type { OidcServices } from '../oidc/services.js';
import { API_KEY_CLIENT_ID } from './api_key_client.js';
import { postToEngine, type DispatchOrigin } from './engine_dispatch.js';
import type { ExchangeResult } from './exchange_result.js';
import type { SessionStore } from './sessions.js';

export interface SessionRefreshDependencies {
  readonly oidc: Pick<OidcServices, 'ready' | 'host'>;
  readonly sessions: Pick<SessionStore, 'findById'>;
  readonly clock?: Clock;
}

/**
 * `POST /auth/refresh`: a session's next token from its refresh token, through the engine's own
 * refresh grant for `keyport-api-key` (rotation, reuse detection), run in-process. Whether the key
 * behind the session may still be used is the route's to judge first (KeyLiveness, keyUseRefusal).
 */
export class SessionRefresh {
  private readonly clock: Clock;

  constructor(private readonly deps: SessionRefreshDependencies) {
    this.clock = deps.clock ?? systemClock;
  }

  /** The refresh token's session, for `/auth/refresh` to answer with docs/reference.md §4 codes before the engine decides. */
  async sessionOfRefreshToken(value: string): Promise<{ session: ApiKeySession } | undefined> {
    await this.deps.oidc.ready();
    const provider = this.deps.oidc.host.provider;
    const stored = await provider.RefreshToken.find(value, { ignoreExpiration: true });
    if (!stored || stored.clientId !== API_KEY_CLIENT_ID || typeof stored.sid !== 'string') return undefined;
    const session = await this.deps.sessions.findById(stored.sid);
    return session ? { session } : undefined;
  }

  /**
   * The engine's refresh grant, dispatched in-process. The route has found the session
   * (`sessionOfRefreshToken`) and judged its key (status, allow list, rate limit: `KeyLiveness.status`,
   * `keyUseRefusal`) with docs/reference.md §4 codes first, so the dispatch says so and the
   * engine's hooks do not count the use again.
   */
  async refreshSession(session: ApiKeySession, refreshToken: string, origin: DispatchOrigin): Promise<ExchangeResult> {
    const answer = await postToEngine(this.deps.oidc.host.provider, ROUTES.token, {
      grant_type: GRANT_TYPES.refresh_token, client_id: API_KEY_CLIENT_ID, refresh_token: refreshToken,
    }, { ...origin, apiKeyChecked: true });
    const { body } = answer;
    if (answer.status === 200 && typeof body.access_token === 'string' && typeof body.expires_in === 'number') {
      return {
        accessToken: body.access_token,
        tokenType: 'Bearer',
        expiresAt: epochSeconds(this.clock) + body.expires_in,
        scope: typeof body.scope === 'string' ? body.scope : '',
        sessionId: session.sessionId,
        refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
        reused: false,
      };
    }
    if (answer.status >= 500) throw new Error(`the engine's refresh grant failed with ${answer.status}`);
    const description = typeof body.error_description === 'string' ? body.error_description : undefined;
    if (body.error === 'invalid_grant') throw new InvalidToken(`The refresh token was refused${description ? ` (${description})` : ''}.`);
    throw new InvalidRequest(description ? `The refresh request was refused (${description}).` : undefined);
  }
}
