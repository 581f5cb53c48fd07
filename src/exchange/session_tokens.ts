import { createHash } from 'node:crypto';
import { GRANT_TYPES, TOKEN_EXCHANGE_GRANT } from '../clients/grant_types.js';
import type { Config } from '../config/config.js';
import type { ApiKeySession } from '../db/entities/api_key_session.js';
import type { AgentRecord, ApiKeyRecord } from '../keys/index.js';
import { scopesAllowedFor } from '../keys/scopes.js';
import { type Clock, epochSeconds, systemClock } from '../lib/clock.js';
import { decrypt, deriveKey, encrypt, randomToken } from '../lib/crypto.js';
import { InvalidToken, ServiceUnavailable } from '../lib/errors.js';
import { newTimeOrderedId } from '../lib/ids.js';
import type { Logger } from '../lib/logger.js';
import { BoundedCache } from '../lib/lru.js';
import { turnEnd } from '../lib/turns.js';
import { looksLikeJwt, type VerifiedAccessToken } from '../oidc/access_tokens.js';
import { apiScopesOf } from '../oidc/configuration.js';
import type { EngineClient, Provider } from '../oidc/engine/index.js';
import { splitScope } from '../oidc/policy.js';
import type { ResourceServerPolicy } from '../oidc/resource_servers.js';
import type { OidcServices } from '../oidc/services.js';
import { mintRefreshToken, mintTokens, type MintedTokens } from '../oidc/token_minter.js';
import { API_KEY_CLIENT_ID } from './api_key_client.js';
import { ClaimCleanup, type FailedClaim } from './claim_cleanup.js';
import type { ExchangeAudiences } from './exchange_audiences.js';
import type { ExchangeResult } from './exchange_result.js';
import type { KeyLiveness } from './key_liveness.js';
import type { KeyStates } from './key_states.js';
import { intersect, narrowScopes } from './scopes.js';
import { sessionHash } from './session_id.js';
import { keyDeadline, sessionClaims, sessionLifetimeSeconds } from './session_token_rules.js';
import { NO_CURRENT_TOKEN, type SessionStore } from './sessions.js';
import { SingleFlight } from './single_flight.js';

/** A repeat gets the earlier token back only while at least this many seconds of it remain. */
export const REUSE_MIN_REMAINING_SECONDS = 30;

const KNOWN_SESSIONS_MAX = 10_000;

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
  /** RFC 9449: bind the token to this DPoP key (thumbprint of a verified proof); undefined: a bearer token. */
  readonly dpopJkt?: string;
}

export interface SessionTokensDependencies {
  readonly config: Pick<Config, 'secret' | 'extraScopes' | 'requestTimeoutMs' | 'tokenTtl'>;
  readonly logger: Logger;
  readonly oidc: Pick<OidcServices, 'ready' | 'host' | 'accessTokens' | 'payloads' | 'tokenIds'>;
  readonly sessions: Pick<SessionStore, 'find' | 'insertClaimed' | 'claim' | 'complete' | 'deleteIfExpired' | 'replaceRefreshToken' | 'failedWritesMayLand' | 'readsWithinTurn' | 'discardUnminted' | 'releaseClaim'>;
  readonly keyStates: Pick<KeyStates, 'seed'>;
  readonly keyLiveness: Pick<KeyLiveness, 'assertCurrent'>;
  readonly audiences: Pick<ExchangeAudiences, 'policyFor' | 'lifetimeFor'>;
  readonly clock?: Clock;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const toEpoch = (date: Date): number => Math.floor(date.getTime() / 1000);
/**
 * The key check of a session this request just inserted: the insert lands only while the database
 * holds the key as working (SessionStore.insertClaimed), the read `assertCurrent` would make.
 */
const KEY_CONFIRMED_BY_INSERT: Promise<void> = Promise.resolve();

/**
 * A verified API key (plus a session ID) → the session's token: one domain service behind two
 * front doors, `POST /auth/login` and the RFC 8693 grant with an API-key subject. It turns the key
 * into an ordinary engine token, and hands the same token out again while it lives (the
 * same-token rule).
 *
 * Concurrency: identical requests in one process share one promise (single flight); across
 * processes and instances the session row decides: a unique (key, session) index for who creates
 * the session, and a claim (conditional UPDATE against a version) for who mints its next token.
 * Everyone else waits for the claim and returns what the winner stored.
 */
export class SessionTokens {
  private readonly tokenKey: Buffer;
  private readonly clock: Clock;
  private readonly flights = new SingleFlight<ExchangeResult>();
  /** Sessions this instance served lately: for those a repeat is likely, so the row is read first. */
  private readonly knownSessions = new BoundedCache<string, true>({ maxEntries: KNOWN_SESSIONS_MAX });
  private readonly engineClients = new WeakMap<Provider, Promise<EngineClient>>();
  /**
   * A claim to mint a session's next token lapses after this (a crashed or stuck minter), and a
   * request waits no longer for another's claim: the request budget (REQUEST_TIMEOUT_MS). By then
   * the claiming request has answered anyway (503 at worst), so nobody waits on it for longer.
   */
  private readonly claimMs: number;
  /** Claims of exchanges that failed half-way, undone in the background (no tokenless session is left claimed). */
  private readonly failedClaims: ClaimCleanup;

  constructor(private readonly deps: SessionTokensDependencies) {
    this.tokenKey = deriveKey(deps.config.secret, 'api-key-session-tokens');
    this.clock = deps.clock ?? systemClock;
    this.claimMs = deps.config.requestTimeoutMs;
    this.failedClaims = new ClaimCleanup(deps.sessions, deps.logger);
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
    const policy = await this.deps.audiences.policyFor(request.audience);

    // The access type bounds the token even if a key row somehow held more (defence in depth).
    const available = intersect(key.scopes, scopesAllowedFor(key.accessType, this.deps.config.extraScopes), apiScopesOf(client), policy.scopes);
    const scopes = narrowScopes(request.scopes, available);
    // The DPoP key is part of what the token is: a repeat with another key (or none) gets another token.
    const fingerprint = createHash('sha256').update([client.clientId, scopes.join(' '), policy.audience, ...(request.dpopJkt ? [`jkt:${request.dpopJkt}`] : [])].join('\u0000')).digest('hex');
    const hash = sessionHash(request.sessionId);

    this.deps.keyStates.seed({
      keyId: key.id, agentId: agent.id, agentActive: agent.status === 'active', status: key.status,
      expiresAt: key.expiresAt, graceUntil: key.graceUntil, env: key.env, accessType: key.accessType,
      ipAllowList: key.ipAllowList, rateLimit: key.rateLimit,
    });

    const job: SessionJob = { key, agent, client, policy, scopes, fingerprint, hash, sessionId: request.sessionId, dpopJkt: request.dpopJkt };
    const flight = `${key.id}\u0000${hash}\u0000${fingerprint}`;
    // On SQLite the exchange of a session this instance knows (a repeat: its token is read back)
    // can settle within the turn it started in, so the flight would close before the next identical
    // request is even parsed, and every same-session repeat would read, decrypt and check the
    // session's token on its own (2.3 × MySQL's CPU per request, where the round trip keeps the
    // flight open). Opening it one turn later lets the requests parsed in the same turn share it, as
    // requests arriving during a round trip share it on MySQL. A new session's flight stays open
    // anyway (its insert waits for the turn's batch), so it does not wait (measured: ~6 % more CPU
    // per new-session login when it did).
    if (!this.deps.sessions.readsWithinTurn || !this.knownSessions.has(knownSessionKey(job))) return this.flights.run(flight, () => this.obtain(job));
    return this.flights.run(flight, async () => {
      await turnEnd();
      return this.obtain(job);
    });
  }

  /** Stops undoing failed claims in the background (shutdown). */
  close(): void {
    this.failedClaims.close();
  }

  private sealToken(value: string): string {
    return encrypt(this.tokenKey, value);
  }

  private openToken(sealed: string): string {
    return decrypt(this.tokenKey, sealed);
  }

  private assertKeyCurrent(job: SessionJob): Promise<void> {
    return this.deps.keyLiveness.assertCurrent(job.key.id, job.agent.id);
  }

  /** The claim/lock loop of one (key, session, fingerprint). */
  private async obtain(job: SessionJob): Promise<ExchangeResult> {
    const { sessions } = this.deps;
    const claimer = randomToken(12);
    // A duration in this process: timed on the monotonic clock, so a clock that stands still (a
    // test's) cannot keep the loop going.
    const giveUpAt = performance.now() + this.claimMs;
    const known = knownSessionKey(job);
    if (!this.knownSessions.has(known)) {
      // Most unknown sessions are new: try to create it straight away (the unique index says if not).
      const result = await this.createAndMint(job, claimer, new Date(this.clock.now()));
      if (result) return this.remember(known, result);
    }
    for (let attempt = 0; ; attempt += 1) {
      if (attempt > 0) {
        if (performance.now() > giveUpAt) {
          this.deps.logger.warn('gave up on an api-key session after repeated contention', { key_id: job.key.id, attempts: attempt });
          throw new ServiceUnavailable();
        }
        // A lost insert or claim tries again at once, and on SQLite every step of an attempt settles
        // without I/O: without a turn in between, a row that keeps not changing (another instance's
        // claim, a clock that stands still) would hold the event loop until the give-up, timers
        // and other requests included (CONTRIBUTING: pause between attempts that may repeat).
        await turnEnd();
      }
      const now = new Date(this.clock.now());
      let row = await sessions.find(job.key.id, job.hash);
      if (row && row.expiresAt.getTime() <= now.getTime()) {
        await sessions.deleteIfExpired(row.id, now);
        row = null;
      }

      if (!row) {
        const result = await this.createAndMint(job, claimer, now);
        if (result) return this.remember(known, result);
        continue;
      }

      if (row.tokenFingerprint === job.fingerprint) {
        const reused = await this.reuse(job, row);
        if (reused) return this.remember(known, reused);
      }

      const until = now.getTime() + this.claimMs;
      // Our own claim shows when an insert reported as failed did land: it is still ours to use.
      const claimedByOther = row.claimedUntil !== null && row.claimedUntil.getTime() > now.getTime() && row.claimedBy !== claimer;
      if (!claimedByOther && (await this.claimOwned(row, claimer, now, until))) {
        const result = await this.mintAsOwner(job, row, claimer, { created: row.claimedBy === claimer && !row.tokenJti, until });
        if (result) return this.remember(known, result);
        continue;
      }
      // Someone else is minting this session's token: wait for it (a few milliseconds, usually).
      await sleep(8 + Math.random() * 16 + Math.min(attempt, 10) * 4);
    }
  }

  /**
   * Creates the session claimed by `claimer` and mints its first token; undefined when the session
   * exists already or the claim was lost (the caller reads the session and tries again). The insert
   * lands only if the key works at `now` as the database has it (SessionStore.insertClaimed); when
   * it does not, `assertKeyCurrent` answers why (revoked, expired) with the error the client gets.
   */
  private async createAndMint(job: SessionJob, claimer: string, now: Date): Promise<ExchangeResult | undefined> {
    const created = this.newSessionRow(job, now);
    const until = now.getTime() + this.claimMs;
    const outcome = await this.takingClaim({ sessionRowId: created.id, claimer, created: true, until }, () => this.deps.sessions.insertClaimed(created, claimer, new Date(until), now));
    if (outcome === 'inserted') return this.mintAsOwner(job, created, claimer, { created: true, until }, KEY_CONFIRMED_BY_INSERT);
    if (outcome === 'key_refused') await this.assertKeyCurrent(job);
    return undefined;
  }

  /** Claims an existing session for `claimer`; false when another request changed it first. */
  private claimOwned(row: ApiKeySession, claimer: string, now: Date, until: number): Promise<boolean> {
    return this.takingClaim({ sessionRowId: row.id, claimer, created: false, until }, () => this.deps.sessions.claim(row.id, row.version, claimer, now, new Date(until)));
  }

  /**
   * Runs the statement that takes a claim. When it fails on MySQL its outcome is unknown (the
   * claim may have landed, or land later), so the claim is undone in the background before the
   * error goes on; otherwise a claim that landed unseen would hold the session until it lapsed.
   */
  private async takingClaim<Outcome>(claim: FailedClaim, statement: () => Promise<Outcome>): Promise<Outcome> {
    try {
      return await statement();
    } catch (err) {
      if (this.deps.sessions.failedWritesMayLand) this.failedClaims.undo({ ...claim, outcomeUnknown: true });
      throw err;
    }
  }

  private remember(known: string, result: ExchangeResult): ExchangeResult {
    this.knownSessions.set(known, true);
    return result;
  }

  private newSessionRow(job: SessionJob, now: Date): ApiKeySession {
    return {
      // Time-ordered: thousands of sessions a second are inserted by this id (lib/ids.ts).
      id: newTimeOrderedId('ses'),
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
    const deadline = Math.min(keyDeadline(job.key) ?? Number.POSITIVE_INFINITY, toEpoch(session.expiresAt));
    return deadline - now;
  }

  private mayRefresh(client: EngineClient): boolean {
    return client.grantTypeAllowed(GRANT_TYPES.refresh_token);
  }

  /**
   * Mints the session's next token under our claim and stores it; undefined when the claim was
   * lost. When minting or storing fails (the database went away or refused the write), the claim is
   * undone before the error goes on: a session this request created is deleted, another released.
   * `keyCheck`: a check of the key made since the request started (KEY_CONFIRMED_BY_INSERT: the
   * session's insert); otherwise `KeyLiveness.assertCurrent` reads the key here, before anything is
   * signed.
   */
  private async mintAsOwner(job: SessionJob, row: ApiKeySession, claimer: string, claim: { created: boolean; until: number }, keyCheck?: Promise<void>): Promise<ExchangeResult | undefined> {
    const undo = (): void => this.failedClaims.undo({ sessionRowId: row.id, claimer, created: claim.created, until: claim.until });
    const { oidc } = this.deps;
    let minted: MintedTokens;
    try {
      const now = epochSeconds(this.clock);
      const remaining = this.remainingSeconds(job, row, now);
      const lifetime = Math.min(this.deps.audiences.lifetimeFor(job.policy.audience, job.policy.accessTokenTtl), remaining);
      if (lifetime < 1) throw new InvalidToken('The API key stops working now; no token can be issued.');
      await (keyCheck ?? this.assertKeyCurrent(job));
      await oidc.ready();
      const host = oidc.host;
      minted = await mintTokens({
        provider: host.provider,
        signingKid: host.keyRing.signingKid,
        client: job.client,
        grantType: TOKEN_EXCHANGE_GRANT,
        accountId: job.agent.id,
        scopes: job.scopes,
        policy: job.policy,
        lifetime,
        claims: sessionClaims(job.key, job.agent.id, row),
        sid: row.id,
        refreshLifetime: this.mayRefresh(job.client) ? remaining : undefined,
        clock: this.clock,
        dpopJkt: job.dpopJkt,
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
      tokenType: minted.tokenType,
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
    const now = epochSeconds(this.clock);
    const exp = toEpoch(row.tokenExpiresAt);
    if (exp - now < REUSE_MIN_REMAINING_SECONDS) return undefined;
    // A key rotated (or given an expiry) since: the new token will end with the key, so that even a
    // resource server verifying JWTs locally stops accepting it then.
    if (exp > this.remainingSeconds(job, row, now) + now) return undefined;
    const { oidc } = this.deps;
    const accessToken = this.openToken(row.tokenCipher);
    const jti = looksLikeJwt(accessToken) ? row.tokenJti : accessToken;
    const verified = this.asVerified(job, row, jti, toEpoch(row.tokenIssuedAt), exp, row.grantId ?? undefined, {
      clientId: row.clientId ?? undefined, scopes: splitScope(row.scope), aud: row.audience ?? undefined,
    });
    if (!(await oidc.accessTokens.isActive(verified))) return undefined;
    // An opaque token may have been revoked by deleting it (not through the registry).
    if (!looksLikeJwt(accessToken) && !(await oidc.accessTokens.findOpaque(accessToken))) return undefined;

    let refreshToken: string | undefined;
    if (this.mayRefresh(job.client) && row.grantId) refreshToken = await this.currentRefreshToken(job, row, now);
    return { accessToken, tokenType: job.dpopJkt ? 'DPoP' : 'Bearer', expiresAt: exp, scope: row.scope ?? '', sessionId: job.sessionId, refreshToken, reused: true };
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
      provider, client: job.client, grantType: TOKEN_EXCHANGE_GRANT, accountId: job.agent.id, scopes: splitScope(row.scope), sid: row.id,
      grantId: row.grantId, audience: row.audience, lifetime, clock: this.clock,
    });
    await this.deps.sessions.replaceRefreshToken(row.id, row.version, this.sealToken(value));
    return value;
  }
}

/** The key of `knownSessions`: the session (key, session hash), whatever the scopes or audience. */
function knownSessionKey(job: Pick<SessionJob, 'key' | 'hash'>): string {
  return `${job.key.id}\u0000${job.hash}`;
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
  readonly dpopJkt: string | undefined;
}
