import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/audit_log.js';
import { GRANT_TYPES } from '../clients/grant_types.js';
import type { Config } from '../config/config.js';
import type { ApiKeySession } from '../db/entities/api_key_session.js';
import type { ActionContext, AgentRecord, ApiKeyRecord, KeyRevokedEvent, KeyStatus } from '../keys/index.js';
import { scopesAllowedFor } from '../keys/scopes.js';
import { decrypt, deriveKey, encrypt, randomToken } from '../lib/crypto.js';
import { ExpiredApiKey, InvalidRequest, InvalidToken, RevokedApiKey, ServiceUnavailable } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';
import { BoundedCache } from '../lib/lru.js';
import { looksLikeJwt, type VerifiedAccessToken } from '../oidc/access_tokens.js';
import { apiScopesOf, ROUTES } from '../oidc/configuration.js';
import type { EngineClient, Provider } from '../oidc/engine/index.js';
import { splitScope, TTL } from '../oidc/policy.js';
import type { ResourceServerPolicy } from '../oidc/resource_servers.js';
import type { OidcServices } from '../oidc/services.js';
import { AccessTokenExchange } from './access_token_exchange.js';
import { API_KEY_CLIENT_ID } from './api_key_client.js';
import { postToEngine, type DispatchOrigin } from './engine_dispatch.js';
import { registryHorizon, revokeTokensOfRevokedKeys } from './revoked_keys.js';
import { ExchangeRefused } from './errors.js';
import { type KeyStates, keyStateStatus, type KeyState } from './key_states.js';
import { intersect, narrowScopes } from './scopes.js';
import { sessionHash } from './session_id.js';
import { NO_CURRENT_TOKEN, type SessionStore } from './sessions.js';
import { ClaimCleanup } from './claim_cleanup.js';
import { SingleFlight } from './single_flight.js';
import { mintRefreshToken, mintTokens, type MintedTokens } from './token_minter.js';

export { API_KEY_CLIENT_ID } from './api_key_client.js';

/** A repeat gets the earlier token back only while at least this many seconds of it remain. */
export const REUSE_MIN_REMAINING_SECONDS = 30;

/**
 * A session (its refresh tokens included) lasts at most this long; then the caller exchanges its
 * key again. Tokens never outlive their session.
 */
export function sessionLifetimeSeconds(config: Pick<Config, 'tokenTtl'>): number {
  return Math.max(TTL.RefreshToken, config.tokenTtl);
}

const CLEANUP_INTERVAL_MS = 10 * 60_000;
const KNOWN_SESSIONS_MAX = 10_000;

export interface ExchangeResult {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly scope: string;
  /** The API-key session the token belongs to (undefined for tokens outside any session). */
  readonly sessionId: string | undefined;
  readonly refreshToken: string | undefined;
  /** True when the session's earlier token was handed out again. */
  readonly reused: boolean;
}

export interface KeyExchangeRequest {
  /** A key that passed `services.keys.verifier.verify` for this request. */
  readonly key: ApiKeyRecord;
  readonly agent: AgentRecord;
  /** Validated with `parseSessionId`. */
  readonly sessionId: string;
  /** Requested scopes (parsed); undefined: every scope the key holds. */
  readonly scopes?: readonly string[];
  /** Resource indicator; undefined: the issuer. */
  readonly audience?: string;
  /** The calling client; undefined: `keyport-api-key`. */
  readonly client?: EngineClient;
}

export interface TokenExchangeRequest {
  readonly subjectToken: string;
  readonly scopes?: readonly string[];
  readonly audience?: string;
  readonly client: EngineClient;
}

/** A live session as the dashboard, the admin API and `GET /auth/sessions` show it. */
export interface SessionView {
  id: string;
  session_id: string;
  key_id: string;
  agent_id: string;
  created_at: string;
  expires_at: string;
  client_id: string | null;
  scope: string | null;
  token_expires_at: string | null;
}

export interface ExchangeDependencies {
  readonly config: Config;
  readonly logger: Logger;
  readonly oidc: OidcServices;
  readonly audit: AuditLog;
  readonly sessions: SessionStore;
  readonly keyStates: KeyStates;
}

const epoch = (now = Date.now()): number => Math.floor(now / 1000);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function toSessionView(row: ApiKeySession): SessionView {
  return {
    id: row.id,
    session_id: row.sessionId,
    key_id: row.keyId,
    agent_id: row.agentId,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt.toISOString(),
    client_id: row.clientId,
    scope: row.scope,
    token_expires_at: row.tokenExpiresAt?.toISOString() ?? null,
  };
}

/** The instant (epoch seconds) after which a key no longer works: expiry or end of its rotation grace. */
export function keyDeadline(key: Pick<ApiKeyRecord, 'expiresAt' | 'graceUntil'>): number | undefined {
  const instants = [key.expiresAt, key.graceUntil].filter((date): date is Date => date !== null).map((date) => epoch(date.getTime()));
  return instants.length ? Math.min(...instants) : undefined;
}

/** Keyport's claims on every token exchanged from an API key (RFC 9068 claims come from the engine). */
export function sessionClaims(key: Pick<ApiKeyRecord, 'id' | 'env' | 'accessType'>, agentId: string, session: Pick<ApiKeySession, 'id' | 'sessionId'>): Record<string, unknown> {
  return {
    api_key_id: key.id,
    agent_id: agentId,
    session_id: session.sessionId,
    sid: session.id,
    env: key.env,
    access_type: key.accessType,
  };
}

/**
 * The API-key exchange (`services.exchange`): one domain service behind two front doors,
 * `POST /auth/login` and the RFC 8693 grant at the token endpoint. It turns a verified key (plus a
 * session ID) into an ordinary engine token, hands the same token out again while it lives
 * (the same-token rule), and ends sessions.
 *
 * Concurrency: identical requests in one process share one promise (single flight); across
 * processes and instances the session row decides: a unique (key, session) index for who creates
 * the session, and a claim (conditional UPDATE against a version) for who mints its next token.
 * Everyone else waits for the claim and returns what the winner stored.
 */
export class ExchangeService {
  readonly sessions: SessionStore;
  readonly keyStates: KeyStates;
  private readonly tokenKey: Buffer;
  private readonly flights = new SingleFlight<ExchangeResult>();
  /** Sessions this instance served lately: for those a repeat is likely, so the row is read first. */
  private readonly knownSessions = new BoundedCache<string, true>({ maxEntries: KNOWN_SESSIONS_MAX });
  private readonly engineClients = new WeakMap<Provider, Promise<EngineClient>>();
  private readonly accessTokenExchange: AccessTokenExchange;
  private cleanupTimer: NodeJS.Timeout | undefined;
  /**
   * A claim to mint a session's next token lapses after this (a crashed or stuck minter), and a
   * request waits no longer for another's claim: the request budget (REQUEST_TIMEOUT_MS). By then
   * the claiming request has answered anyway (503 at worst), so nobody waits on it for longer.
   */
  private readonly claimMs: number;
  /** Claims of exchanges that failed half-way, undone in the background (no tokenless session is left claimed). */
  private readonly failedClaims: ClaimCleanup;

  constructor(private readonly deps: ExchangeDependencies) {
    this.sessions = deps.sessions;
    this.keyStates = deps.keyStates;
    this.tokenKey = deriveKey(deps.config.secret, 'api-key-session-tokens');
    this.accessTokenExchange = new AccessTokenExchange({
      oidc: deps.oidc,
      assertKeyCurrent: (keyId, agentId) => this.assertKeyCurrent(keyId, agentId),
      policyFor: (audience) => this.policyFor(audience),
      lifetimeFor: (audience, ttl) => this.lifetimeFor(audience, ttl),
    });
    this.claimMs = deps.config.requestTimeoutMs;
    this.failedClaims = new ClaimCleanup(deps.sessions, deps.logger);
  }

  /** Seconds an exchanged token lives for this audience: TOKEN_TTL, or a resource server's shorter TTL. */
  lifetimeFor(audience: string, resourceServerTtl: number | undefined): number {
    const { tokenTtl } = this.deps.config;
    if (audience === this.deps.oidc.resourceServers.defaultAudience || resourceServerTtl === undefined) return tokenTtl;
    return Math.min(tokenTtl, resourceServerTtl);
  }

  /** The engine client of `keyport-api-key` on the current provider. */
  async apiKeyClient(provider: Provider): Promise<EngineClient> {
    let found = this.engineClients.get(provider);
    if (!found) {
      found = provider.Client.find(API_KEY_CLIENT_ID).then((client) => {
        if (!client) throw new Error(`the built-in client ${API_KEY_CLIENT_ID} is not registered`);
        return client;
      });
      found.catch(() => this.engineClients.delete(provider));
      this.engineClients.set(provider, found);
    }
    return found;
  }

  /**
   * Exchanges a verified API key for an access token of the session (key, `sessionId`): the
   * session's current token when it still fits the request, otherwise a new one (exactly one, however
   * many identical requests run at once, on however many instances).
   */
  async exchangeKey(request: KeyExchangeRequest): Promise<ExchangeResult> {
    const { key, agent } = request;
    await this.deps.oidc.ready();
    const host = this.deps.oidc.host;
    const provider = host.provider;
    const client = request.client ?? (await this.apiKeyClient(provider));
    const policy = await this.policyFor(request.audience);

    // The access type bounds the token even if a key row somehow held more (defence in depth).
    const available = intersect(key.scopes, scopesAllowedFor(key.accessType, this.deps.config.extraScopes), apiScopesOf(client), policy.scopes);
    const scopes = narrowScopes(request.scopes, available);
    const fingerprint = createHash('sha256').update([client.clientId, scopes.join(' '), policy.audience].join('\u0000')).digest('hex');
    const hash = sessionHash(request.sessionId);

    this.deps.keyStates.seed({
      keyId: key.id, agentId: agent.id, agentActive: agent.status === 'active', status: key.status,
      expiresAt: key.expiresAt, graceUntil: key.graceUntil, env: key.env, accessType: key.accessType,
      ipAllowList: key.ipAllowList, rateLimit: key.rateLimit,
    });

    const job: SessionJob = { key, agent, client, policy, scopes, fingerprint, hash, sessionId: request.sessionId };
    return this.flights.run(`${key.id}\u0000${hash}\u0000${fingerprint}`, () => this.obtain(job));
  }

  /**
   * RFC 8693 with an access token as the subject: a narrower token in the subject's family
   * (see AccessTokenExchange for who may ask and what may narrow).
   */
  exchangeAccessToken(request: TokenExchangeRequest): Promise<ExchangeResult> {
    return this.accessTokenExchange.exchange(request);
  }

  /** Ends the session `sessionId` of this key; false when there is no such live session. */
  async endSession(key: Pick<ApiKeyRecord, 'id'>, sessionId: string, by: ActionContext): Promise<boolean> {
    return this.endAndRecord(await this.deps.sessions.find(key.id, sessionHash(sessionId)), by);
  }

  /** Ends a session by its `ses_…` id (dashboard, admin API); false when it is gone already. */
  async endSessionById(id: string, by: ActionContext): Promise<boolean> {
    return this.endAndRecord(await this.deps.sessions.findById(id), by);
  }

  private async endAndRecord(row: ApiKeySession | null | undefined, by: ActionContext): Promise<boolean> {
    if (!row) return false;
    await this.endSessionRow(row);
    await this.deps.audit.record({
      action: 'session.ended', actor: by.actor, ip: by.ip, targetType: 'api_key_session', targetId: row.id,
      details: { key_id: row.keyId, agent_id: row.agentId },
    });
    return true;
  }

  /** Live sessions of a key or of an agent, newest first (sessions of keys that stopped working are over). */
  async listSessions(filter: { keyId: string } | { agentId: string }, limit = 100): Promise<SessionView[]> {
    return (await this.liveSessions(filter, limit)).map(toSessionView);
  }

  /**
   * The dashboard's `ApiKeySessionDirectory`: the agent's live sessions, newest first. `lastUsedAt`
   * is when the session's current token was issued (refreshes do not touch the session row).
   */
  async listActiveForAgent(agentId: string, options: { limit: number }): Promise<Array<{ keyId: string; sessionId: string; createdAt: Date; lastUsedAt: Date | null; expiresAt: Date | null }>> {
    return (await this.liveSessions({ agentId }, options.limit)).map((row) => ({
      keyId: row.keyId,
      sessionId: row.sessionId,
      createdAt: row.createdAt,
      lastUsedAt: row.tokenIssuedAt,
      expiresAt: row.tokenExpiresAt,
    }));
  }

  private async liveSessions(filter: { keyId: string } | { agentId: string }, limit: number): Promise<ApiKeySession[]> {
    const bounded = Math.max(1, Math.min(limit, 1000));
    const rows = 'keyId' in filter ? await this.deps.sessions.list({ keyId: filter.keyId }, bounded) : await this.deps.sessions.list({ agentId: filter.agentId }, bounded);
    const now = Date.now();
    const live: ApiKeySession[] = [];
    for (const row of rows) {
      if (row.expiresAt.getTime() <= now) continue;
      if ((await this.keyStatus(row.keyId)).status !== 'active') continue;
      live.push(row);
    }
    return live;
  }

  /**
   * `services.keys.onRevoked`: every session and token of the revoked keys (and agent) ends, on
   * every instance. The registry rows are what every instance checks (other instances' caches hear
   * of it through the bus); the refresh grant refuses the sessions because their key is dead. The
   * session rows stay until they expire, inert (the key can no longer log in), so `/auth/refresh`
   * can still tell `revoked_api_key` from an unknown token.
   */
  async onKeysRevoked(event: KeyRevokedEvent): Promise<void> {
    this.deps.keyStates.evict({ keyIds: event.keyIds, agentId: event.agentId });
    await revokeTokensOfRevokedKeys({ revocations: this.deps.oidc.revocations, config: this.deps.config, logger: this.deps.logger }, event);
  }

  /** Deletes sessions past their end. */
  async cleanup(now = new Date()): Promise<number> {
    try {
      return await this.deps.sessions.deleteExpired(now);
    } catch (err) {
      this.deps.logger.warn('api-key session clean-up failed', { err });
      return 0;
    }
  }

  startCleanup(): void {
    if (this.cleanupTimer) return;
    this.cleanupTimer = setInterval(() => { void this.cleanup(); }, CLEANUP_INTERVAL_MS);
    this.cleanupTimer.unref();
  }

  close(): void {
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    this.cleanupTimer = undefined;
    this.failedClaims.close();
  }

  sealToken(value: string): string {
    return encrypt(this.tokenKey, value);
  }

  openToken(sealed: string): string {
    return decrypt(this.tokenKey, sealed);
  }

  /** Registry rows must outlive every token they could match. */
  registryHorizon(): Date {
    return registryHorizon(this.deps.config);
  }

  private async policyFor(audience: string | undefined): Promise<ResourceServerPolicy> {
    const { resourceServers } = this.deps.oidc;
    if (audience === undefined) return resourceServers.defaultPolicy;
    const policy = await resourceServers.find(audience);
    if (!policy) throw new ExchangeRefused('invalid_request', 'invalid_target', 'The audience (resource indicator) is not a known resource server.');
    return policy;
  }

  private async endSessionRow(row: ApiKeySession): Promise<void> {
    // The row goes first: a concurrent exchange then starts a fresh session (a new sid) instead of
    // re-issuing under the sid about to be revoked.
    await this.deps.sessions.delete(row.id);
    await this.deps.oidc.revocations.revoke({ kind: 'session', value: row.id }, this.registryHorizon());
    if (row.grantId) await this.deps.oidc.payloads.deleteGrantFamily(row.grantId);
  }

  /** The claim/lock loop of one (key, session, fingerprint). */
  private async obtain(job: SessionJob): Promise<ExchangeResult> {
    const { sessions } = this.deps;
    const claimer = randomToken(12);
    const giveUpAt = Date.now() + this.claimMs;
    const known = `${job.key.id}\u0000${job.hash}`;
    if (!this.knownSessions.has(known)) {
      // Most unknown sessions are new: try to create it straight away (the unique index says if not),
      // reading the key's current state meanwhile for the mint that follows.
      const keyCheck = this.assertKeyCurrent(job.key.id, job.agent.id);
      keyCheck.catch(() => undefined);
      const now = new Date();
      const created = this.newSessionRow(job, now);
      const until = now.getTime() + this.claimMs;
      if (await this.insertOwned(created, claimer, until)) {
        const result = await this.mintAsOwner(job, created, claimer, { created: true, until }, keyCheck);
        if (result) return this.remember(known, result);
      }
    }
    for (let attempt = 0; ; attempt += 1) {
      if (attempt > 0 && Date.now() > giveUpAt) {
        this.deps.logger.warn('gave up on an api-key session after repeated contention', { key_id: job.key.id, attempts: attempt });
        throw new ServiceUnavailable();
      }
      const now = new Date();
      let row = await sessions.find(job.key.id, job.hash);
      if (row && row.expiresAt.getTime() <= now.getTime()) {
        await sessions.deleteIfExpired(row.id, now);
        row = null;
      }

      const until = now.getTime() + this.claimMs;
      if (!row) {
        const created: ApiKeySession = this.newSessionRow(job, now);
        if (await this.insertOwned(created, claimer, until)) {
          const result = await this.mintAsOwner(job, created, claimer, { created: true, until });
          if (result) return this.remember(known, result);
        }
        continue;
      }

      if (row.tokenFingerprint === job.fingerprint) {
        const reused = await this.reuse(job, row);
        if (reused) return this.remember(known, reused);
      }

      // Our own claim shows when an insert reported as failed did land: it is still ours to use.
      const claimedByOther = row.claimedUntil !== null && row.claimedUntil.getTime() > now.getTime() && row.claimedBy !== claimer;
      if (!claimedByOther && (await sessions.claim(row.id, row.version, claimer, now, new Date(until)))) {
        const result = await this.mintAsOwner(job, row, claimer, { created: row.claimedBy === claimer && !row.tokenJti, until });
        if (result) return this.remember(known, result);
        continue;
      }
      // Someone else is minting this session's token: wait for it (a few milliseconds, usually).
      await sleep(8 + Math.random() * 16 + Math.min(attempt, 10) * 4);
    }
  }

  /**
   * Inserts a new session claimed by `claimer`; false when it exists already. When the statement
   * fails on MySQL its outcome is unknown (the row may have landed, or land later), so the row is
   * undone in the background before the error goes on.
   */
  private async insertOwned(created: ApiKeySession, claimer: string, until: number): Promise<boolean> {
    try {
      return await this.deps.sessions.insertClaimed(created, claimer, new Date(until));
    } catch (err) {
      if (this.deps.sessions.failedWritesMayLand) this.failedClaims.undo({ sessionRowId: created.id, claimer, created: true, until });
      throw err;
    }
  }

  private remember(known: string, result: ExchangeResult): ExchangeResult {
    this.knownSessions.set(known, true);
    return result;
  }

  private newSessionRow(job: SessionJob, now: Date): ApiKeySession {
    return {
      id: newId('ses'),
      keyId: job.key.id,
      agentId: job.agent.id,
      sessionId: job.sessionId,
      sessionHash: job.hash,
      createdAt: now,
      expiresAt: new Date(now.getTime() + sessionLifetimeSeconds(this.deps.config) * 1000),
      version: 0,
      claimedBy: null,
      claimedUntil: null,
      ...NO_CURRENT_TOKEN,
    };
  }

  /** Seconds until the key or the session stops (whichever first). */
  private remainingSeconds(job: SessionJob, session: Pick<ApiKeySession, 'expiresAt'>, now: number): number {
    const deadline = Math.min(keyDeadline(job.key) ?? Number.POSITIVE_INFINITY, epoch(session.expiresAt.getTime()));
    return deadline - now;
  }

  private mayRefresh(client: EngineClient): boolean {
    return client.grantTypeAllowed(GRANT_TYPES.refresh_token);
  }

  /**
   * Mints the session's next token under our claim and stores it; undefined when the claim was
   * lost. When minting or storing fails (the database went away or refused the write), the claim is
   * undone before the error goes on: a session this request created is deleted, another released.
   * `keyCheck`: an `assertKeyCurrent` of this request already under way (its read started after
   * the request did); otherwise one is made here, before anything is signed.
   */
  private async mintAsOwner(job: SessionJob, row: ApiKeySession, claimer: string, claim: { created: boolean; until: number }, keyCheck?: Promise<void>): Promise<ExchangeResult | undefined> {
    const undo = (): void => this.failedClaims.undo({ sessionRowId: row.id, claimer, created: claim.created, until: claim.until });
    const { oidc } = this.deps;
    let minted: MintedTokens;
    try {
      const now = epoch();
      const remaining = this.remainingSeconds(job, row, now);
      const lifetime = Math.min(this.lifetimeFor(job.policy.audience, job.policy.accessTokenTtl), remaining);
      if (lifetime < 1) throw new InvalidToken('The API key stops working now; no token can be issued.');
      await (keyCheck ?? this.assertKeyCurrent(job.key.id, job.agent.id));
      await oidc.ready();
      const host = oidc.host;
      minted = await mintTokens({
        provider: host.provider,
        signingKid: host.keyRing.signingKid,
        client: job.client,
        accountId: job.agent.id,
        scopes: job.scopes,
        policy: job.policy,
        lifetime,
        claims: sessionClaims(job.key, job.agent.id, row),
        sid: row.id,
        refreshLifetime: this.mayRefresh(job.client) ? remaining : undefined,
      });
    } catch (err) {
      undo();
      throw err;
    }

    let stored: boolean;
    try {
      stored = await this.deps.sessions.complete(row.id, claimer, {
        tokenCipher: this.sealToken(minted.accessToken),
        // An opaque token's id is the token itself: only its keyed hash is stored (the reuse path reads
        // the id back from the sealed token). A JWT's jti is no credential.
        tokenJti: looksLikeJwt(minted.accessToken) ? minted.jti : this.deps.oidc.tokenIds.hash(minted.jti),
        tokenIssuedAt: new Date(minted.iat * 1000),
        tokenExpiresAt: new Date(minted.exp * 1000),
        tokenFingerprint: job.fingerprint,
        clientId: job.client.clientId,
        scope: job.scopes.join(' '),
        audience: job.policy.audience,
        grantId: minted.grantId ?? null,
        refreshCipher: minted.refreshToken ? this.sealToken(minted.refreshToken) : null,
      });
    } catch (err) {
      // Stored or not is unknown; the undo touches the row only while it is still claimed and tokenless.
      undo();
      throw err;
    }
    if (!stored) {
      // The claim lapsed and someone else minted (or the session ended): this token never leaves.
      await this.discard(job, row, minted);
      return undefined;
    }
    return {
      accessToken: minted.accessToken,
      tokenType: 'Bearer',
      expiresAt: minted.exp,
      scope: job.scopes.join(' '),
      sessionId: job.sessionId,
      refreshToken: minted.refreshToken,
      reused: false,
    };
  }

  private async discard(job: SessionJob, row: ApiKeySession, minted: MintedTokens): Promise<void> {
    try {
      await this.deps.oidc.accessTokens.revoke(this.asVerified(job, row, minted.jti, minted.iat, minted.exp, minted.grantId));
    } catch (err) {
      this.deps.logger.warn('could not revoke a discarded token', { err, session: row.id });
    }
  }

  private asVerified(job: Pick<SessionJob, 'key' | 'agent'>, row: Pick<ApiKeySession, 'id' | 'sessionId'>, jti: string, iat: number, exp: number, grantId: string | undefined, extra: Partial<VerifiedAccessToken> = {}): VerifiedAccessToken {
    return {
      format: 'jwt',
      jti,
      sub: job.agent.id,
      accountId: job.agent.id,
      clientId: extra.clientId ?? API_KEY_CLIENT_ID,
      scopes: extra.scopes ?? [],
      exp,
      iat,
      aud: extra.aud,
      grantId,
      claims: sessionClaims(job.key, job.agent.id, row),
    };
  }

  /**
   * The session's current token, when it is still good for this request: same client, scopes and
   * audience (the fingerprint), enough lifetime left, and active (not revoked, session and key
   * alive). Its refresh token comes along while unused; a used one is replaced by a fresh one of
   * the same grant.
   */
  private async reuse(job: SessionJob, row: ApiKeySession): Promise<ExchangeResult | undefined> {
    if (!row.tokenCipher || !row.tokenJti || !row.tokenExpiresAt || !row.tokenIssuedAt) return undefined;
    const now = epoch();
    const exp = epoch(row.tokenExpiresAt.getTime());
    if (exp - now < REUSE_MIN_REMAINING_SECONDS) return undefined;
    // A key rotated (or given an expiry) since: the new token will end with the key, so that even a
    // resource server verifying JWTs locally stops accepting it then.
    if (exp > this.remainingSeconds(job, row, now) + now) return undefined;
    const { oidc } = this.deps;
    const accessToken = this.openToken(row.tokenCipher);
    const jti = looksLikeJwt(accessToken) ? row.tokenJti : accessToken;
    const verified = this.asVerified(job, row, jti, epoch(row.tokenIssuedAt.getTime()), exp, row.grantId ?? undefined, {
      clientId: row.clientId ?? undefined, scopes: splitScope(row.scope), aud: row.audience ?? undefined,
    });
    if (!(await oidc.accessTokens.isActive(verified))) return undefined;
    // An opaque token may have been revoked by deleting it (not through the registry).
    if (!looksLikeJwt(accessToken) && !(await oidc.accessTokens.findOpaque(accessToken))) return undefined;

    let refreshToken: string | undefined;
    if (this.mayRefresh(job.client) && row.grantId) refreshToken = await this.currentRefreshToken(job, row, now);
    return { accessToken, tokenType: 'Bearer', expiresAt: exp, scope: row.scope ?? '', sessionId: job.sessionId, refreshToken, reused: true };
  }

  private async currentRefreshToken(job: SessionJob, row: ApiKeySession, now: number): Promise<string | undefined> {
    const { oidc } = this.deps;
    const provider = oidc.host.provider;
    if (row.refreshCipher) {
      const value = this.openToken(row.refreshCipher);
      if (await oidc.payloads.isUnused('RefreshToken', value)) return value;
    }
    const lifetime = this.remainingSeconds(job, row, now);
    if (lifetime < 1 || !row.grantId || !row.audience) return undefined;
    const value = await mintRefreshToken({
      provider, client: job.client, accountId: job.agent.id, scopes: splitScope(row.scope), sid: row.id,
      grantId: row.grantId, audience: row.audience, lifetime,
    });
    await this.deps.sessions.replaceRefreshToken(row.id, row.version, this.sealToken(value));
    return value;
  }

  /**
   * `POST /auth/refresh`: the engine's own refresh grant for `keyport-api-key` (rotation, reuse
   * detection), run in-process. The route has found the session (`sessionOfRefreshToken`) and
   * judged its key (status, allow list, rate limit: `keyStatus`, `keyUseRefusal`) with docs/reference.md §4
   * codes first, so the dispatch says so and the engine's hooks do not count the use again.
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
        expiresAt: epoch() + body.expires_in,
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
   * The key behind a session as it stands now: its cached state judged against the clock, and the
   * revocation registry, which another instance or the CLI writes to the database at once (the
   * cached state alone could be a few seconds behind without a shared bus). With `fresh`, the key
   * and agent rows as the database has them at this moment (one batched indexed read): for
   * whatever is about to sign a token for the key.
   */
  async keyStatus(keyId: string, options: { fresh?: boolean } = {}): Promise<{ state: KeyState | undefined; status: KeyStatus }> {
    if (options.fresh) {
      const state = await this.deps.keyStates.current(keyId);
      return { state, status: state ? keyStateStatus(state) : 'revoked' };
    }
    const state = await this.deps.keyStates.get(keyId);
    if (!state) return { state, status: 'revoked' };
    const status = keyStateStatus(state);
    if (status !== 'active') return { state, status };
    const revoked = await this.deps.oidc.revocations.isRevoked([{ kind: 'api_key', value: keyId }, { kind: 'agent', value: state.agentId }], 0);
    return { state, status: revoked ? 'revoked' : 'active' };
  }

  /**
   * Refuses (401 revoked_api_key / expired_api_key; invalid_grant at the token endpoint) unless the
   * database says, now, that the key and its agent work. The key verifier's cache may be up to a
   * sweep (250 ms) behind a revocation made by another process (`keyport key:revoke`); a token
   * signed in that window would verify against the JWKS for its whole life, so nothing is signed
   * for a key without this read.
   */
  async assertKeyCurrent(keyId: string, agentId: string): Promise<void> {
    const { state, status } = await this.keyStatus(keyId, { fresh: true });
    if (status === 'expired' && state?.agentId === agentId) throw new ExpiredApiKey();
    if (status !== 'active' || state?.agentId !== agentId) throw new RevokedApiKey();
  }
}

interface SessionJob {
  readonly key: ApiKeyRecord;
  readonly agent: AgentRecord;
  readonly client: EngineClient;
  readonly policy: ResourceServerPolicy;
  readonly scopes: readonly string[];
  readonly fingerprint: string;
  readonly hash: string;
  readonly sessionId: string;
}
