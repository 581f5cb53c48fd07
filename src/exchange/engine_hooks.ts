import { TOKEN_EXCHANGE_GRANT } from '../clients/grant_types.js';
import { canonicalAgentId, isAgentSubject } from '../keys/agent_ids.js';
import type { Config } from '../config/config.js';
import { knownScopes } from '../keys/scopes.js';
import type { VerifiedAccessToken } from '../oidc/access_tokens.js';
import { API_SCOPE_METADATA } from '../oidc/policy.js';
import type { Account, AccessToken, KoaContextWithOIDC } from '../oidc/engine/index.js';
import type { RevocationKey } from '../oidc/revocations.js';
import type { ApiKeySubject } from '../ratelimit/service.js';
import { apiKeyCheckedAhead } from './engine_dispatch.js';
import { API_KEY_CLIENT_ID } from './api_key_client.js';
import type { ExchangeAudiences } from './exchange_audiences.js';
import type { KeyLiveness } from './key_liveness.js';
import { keyStateStatus, keyStateSubject, keyUseRefusal, type KeyStates } from './key_states.js';
import { keyDeadline, sessionClaims } from './session_token_rules.js';
import type { SessionStore } from './sessions.js';
import { invalidGrant, refusalOf } from './token_exchange_grant.js';

/** Marks the engine Account of an agent acting through an API-key session (set by the account lookup). */
const SESSION_FACTS = Symbol('keyport.apiKeySession');

interface SessionFacts {
  /** Claims every access token of the session carries. */
  readonly claims: Record<string, unknown>;
  /** Epoch seconds: the key's expiry or grace end, or the session's end, whichever is first. */
  readonly deadline: number;
}

type SessionAccount = Account & { [SESSION_FACTS]?: SessionFacts };

const epoch = (): number => Math.floor(Date.now() / 1000);

/** The built-in public client of docs/reference.md §3: no secret (the API key is the credential), never in the clients table. */
export function apiKeyClientMetadata(config: Pick<Config, 'extraScopes'>): Record<string, unknown> & { client_id: string } {
  return {
    client_id: API_KEY_CLIENT_ID,
    client_name: 'API-key exchange (built in)',
    token_endpoint_auth_method: 'none',
    grant_types: [TOKEN_EXCHANGE_GRANT, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    // Every scope a key can hold; the key (and its access type) narrows each token.
    [API_SCOPE_METADATA]: knownScopes(config.extraScopes).join(' '),
  };
}

function sessionFactsOf(ctx: KoaContextWithOIDC | undefined): { accountId: string; facts: SessionFacts } | undefined {
  const account = (ctx?.oidc?.entities as { Account?: SessionAccount } | undefined)?.Account;
  const facts = account?.[SESSION_FACTS];
  return account && facts ? { accountId: account.accountId, facts } : undefined;
}

/**
 * Counts one use of an API key against its limits inside the engine; throws the engine's 429 when
 * it is over them (see ratelimit/token_endpoint.ts).
 */
export type KeyUseLimit = (ctx: KoaContextWithOIDC, subject: ApiKeySubject) => Promise<void>;

/**
 * The engine's account lookup for agents (`agent_…`, and the legacy `agt_…` of tokens issued before migration 1733300000000). Agents only act through API-key sessions, so
 * the token being redeemed (a refresh token) must name a live session (`sid`) of this agent whose
 * key is still good: a revoked or expired key, a revoked agent, an ended or expired session, a
 * rotation grace period that is over — each makes the engine answer invalid_grant.
 *
 * A refresh is a use of the key, so it is judged as `/auth/login` judges one: the caller's address
 * must be on the key's allow list (invalid_grant otherwise) and the request counts against the
 * key's rate limits (429 rate_limit_exceeded). The engine looks the account up before it consumes
 * the refresh token, so a refused refresh leaves the token usable. `/auth/refresh` checks and counts
 * in front of the engine (with docs/reference.md §4 codes) and dispatches with `apiKeyChecked`: not counted twice.
 */
export function agentAccountResolver(deps: { readonly sessions: Pick<SessionStore, 'findById'>; readonly keyLiveness: Pick<KeyLiveness, 'status'> }, limitKeyUse?: KeyUseLimit) {
  return async function findAgentAccount(agentId: string, source?: unknown, ctx?: KoaContextWithOIDC): Promise<Account | undefined> {
    const sid = (source as { sid?: unknown } | undefined)?.sid;
    if (typeof sid !== 'string' || !sid.startsWith('ses_')) return undefined;
    const session = await deps.sessions.findById(sid);
    // A refresh token issued before the agent-id migration names the agent in the legacy `agt_` form.
    if (!session || session.agentId !== canonicalAgentId(agentId) || session.expiresAt.getTime() <= Date.now()) return undefined;
    // The engine signs a new token for the key if this passes: the key as the database has it now.
    const { state, status } = await deps.keyLiveness.status(session.keyId, { fresh: true });
    if (!state || state.agentId !== session.agentId) return undefined;
    if (status !== 'active') throw invalidGrant(refusalOf(status));
    if (ctx) {
      const refusal = keyUseRefusal(state, ctx.ip);
      if (refusal) throw invalidGrant(refusalOf(refusal));
      if (limitKeyUse && !apiKeyCheckedAhead(ctx)) await limitKeyUse(ctx, keyStateSubject(state));
    }
    const facts: SessionFacts = {
      claims: sessionClaims({ id: state.keyId, env: state.env, accessType: state.accessType }, agentId, session),
      deadline: Math.min(keyDeadline(state) ?? Number.POSITIVE_INFINITY, Math.floor(session.expiresAt.getTime() / 1000)),
    };
    const account: SessionAccount = { accountId: agentId, claims: async () => ({ sub: agentId }), [SESSION_FACTS]: facts };
    return account;
  };
}

/** Claims of a refreshed token: the same as the session's first token (the engine mints it without them). */
export function sessionTokenClaims(ctx: KoaContextWithOIDC | undefined, token: unknown): Record<string, unknown> | undefined {
  const candidate = token as { extra?: Record<string, unknown>; accountId?: string };
  if (candidate.extra && 'api_key_id' in candidate.extra) return undefined;
  const found = sessionFactsOf(ctx);
  if (!found || found.accountId !== candidate.accountId) return undefined;
  return found.facts.claims;
}

/**
 * Lifetime of tokens whose family started with a token exchange (the engine asks on refresh):
 * TOKEN_TTL (a resource server's shorter TTL wins), never past the key's or the session's end.
 */
export function exchangedTokenTtl(audiences: Pick<ExchangeAudiences, 'lifetimeFor'>) {
  return function decideExchangedTokenTtl(ctx: KoaContextWithOIDC | undefined, token: AccessToken): number | undefined {
    if (typeof token.gty !== 'string' || !token.gty.startsWith(TOKEN_EXCHANGE_GRANT)) return undefined;
    const server = token.resourceServer;
    let ttl = server ? audiences.lifetimeFor(server.identifier(), server.accessTokenTTL) : audiences.lifetimeFor('', undefined);
    const found = sessionFactsOf(ctx);
    if (found) ttl = Math.min(ttl, found.facts.deadline - epoch());
    return Math.max(1, ttl);
  };
}

/** Registry keys of an exchanged token: its key, its agent, its session (checked in the same read as jti/grant/client). */
export function sessionRevocationKeys(token: VerifiedAccessToken): RevocationKey[] {
  const keyId = token.claims.api_key_id;
  if (typeof keyId !== 'string') return [];
  const keys: RevocationKey[] = [{ kind: 'api_key', value: keyId }];
  if (isAgentSubject(token.sub)) keys.push({ kind: 'agent', value: canonicalAgentId(token.sub) });
  const sid = token.claims.sid;
  if (typeof sid === 'string' && sid.startsWith('ses_')) keys.push({ kind: 'session', value: sid });
  return keys;
}

/**
 * A token exchanged from an API key is active only while the key works: not revoked, not expired,
 * its rotation grace not over, its agent not revoked — judged against the clock on every check.
 */
export function keyActivityCheck(keyStates: Pick<KeyStates, 'get'>) {
  return async function keyStillWorks(token: VerifiedAccessToken): Promise<boolean> {
    const keyId = token.claims.api_key_id;
    if (typeof keyId !== 'string') return true;
    const state = await keyStates.get(keyId);
    return Boolean(state && state.agentId === canonicalAgentId(token.sub) && keyStateStatus(state) === 'active');
  };
}
