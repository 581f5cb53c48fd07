import { TOKEN_EXCHANGE_GRANT } from '../clients/grant_types.js';
import { type Clock, epochSeconds, systemClock } from '../lib/clock.js';
import { dpopThumbprintOf, type VerifiedAccessToken } from '../oidc/access_tokens.js';
import { apiScopesOf } from '../oidc/configuration.js';
import type { EngineClient } from '../oidc/engine/index.js';
import { isOidcScope } from '../oidc/policy.js';
import type { ResourceServerPolicy } from '../oidc/resource_servers.js';
import type { OidcServices } from '../oidc/services.js';
import { LINEAGE_CLAIM, lineageFrom, MAX_LINEAGE_DEPTH } from '../oidc/token_lineage.js';
import { mintTokens } from '../oidc/token_minter.js';
import { API_KEY_CLIENT_ID } from './api_key_client.js';
import { ExchangeRefused } from './errors.js';
import type { ExchangeAudiences } from './exchange_audiences.js';
import type { ExchangeResult } from './exchange_result.js';
import type { KeyLiveness } from './key_liveness.js';
import { intersect, narrowScopes } from './scopes.js';

/** Claims an exchanged access token copies from its subject token (API-key session facts). */
const INHERITED_CLAIMS = ['api_key_id', 'agent_id', 'session_id', 'sid', 'env', 'access_type'] as const;

/** RFC 8693 with an access token as the subject (`subject_token_type` access_token or jwt). */
export interface AccessTokenExchangeRequest {
  readonly subjectToken: string;
  readonly scopes?: readonly string[];
  readonly audience?: string;
  readonly client: EngineClient;
  /** RFC 9449: the thumbprint of the caller's verified DPoP proof; the new token is bound to it. */
  readonly dpopJkt?: string;
}

export interface AccessTokenExchangeDependencies {
  readonly oidc: Pick<OidcServices, 'accessTokens' | 'tokenIds' | 'resourceServers' | 'ready' | 'host'>;
  /** The policy of a known audience (invalid_target for an unknown one) and the lifetime of a token for it. */
  readonly audiences: Pick<ExchangeAudiences, 'policyFor' | 'lifetimeFor'>;
  /** Refuses unless the database says now that the key (and its agent) work: read before signing. */
  readonly keyLiveness: Pick<KeyLiveness, 'assertCurrent'>;
  readonly clock?: Clock;
}

function refuseGrant(message: string): ExchangeRefused {
  return new ExchangeRefused('invalid_token', 'invalid_grant', message);
}

function refuseTarget(message: string): ExchangeRefused {
  return new ExchangeRefused('invalid_request', 'invalid_target', message);
}

/** The audiences a token is for (RFC 9068 `aud`, a string or a list). */
function audiencesOf(token: VerifiedAccessToken): string[] {
  return (token.aud === undefined ? [] : [token.aud].flat()).filter((audience): audience is string => typeof audience === 'string');
}

/**
 * Who may exchange an access-token subject (RFC 8693 §2.1, §5):
 * - the client it was issued to;
 * - or a confidential client that authenticated (the engine already checked that its grant types
 *   include token exchange) — but a client-credentials token stands for its client, so only that
 *   client may narrow it;
 * - the public `keyport-api-key` only for tokens minted from an API key (an API key is its only
 *   credential; a token issued to a user or a service is no key).
 * A public client holds no secret: anyone may claim to be it, so it may never exchange a token it
 * did not receive itself.
 */
function assertMayExchange(subject: VerifiedAccessToken, caller: EngineClient): void {
  if (subject.clientId === caller.clientId) {
    if (caller.clientId === API_KEY_CLIENT_ID && typeof subject.claims.api_key_id !== 'string') {
      throw refuseGrant(`${API_KEY_CLIENT_ID} may exchange only tokens minted from an API key.`);
    }
    return;
  }
  if (caller.clientAuthMethod === 'none') {
    throw refuseGrant('subject_token was issued to another client: only that client, or a confidential client that authenticates, may exchange it.');
  }
  if (subject.accountId === undefined) throw refuseGrant('a client-credentials token can only be exchanged by its own client.');
}

/**
 * RFC 8693 with an access token as the subject: a token that can only be narrower than its
 * subject. Its audience is one the subject already has (or, when a confidential client asks, a
 * registered resource server that the subject's own client may use), its scopes a subset of the
 * subject's, its lifetime at most the subject's remaining one; it keeps the subject's `sub` and
 * API-key session claims, and joins the subject's family: the same grant when the same client
 * asks, and in every case a lineage link (token_lineage.ts) so that revoking the subject, its
 * grant (refresh family, sign-out), its client, its session, key or agent ends it at once.
 * No refresh token.
 */
export class AccessTokenExchange {
  private readonly clock: Clock;

  constructor(private readonly deps: AccessTokenExchangeDependencies) {
    this.clock = deps.clock ?? systemClock;
  }

  async exchange(request: AccessTokenExchangeRequest): Promise<ExchangeResult> {
    const { oidc } = this.deps;
    const { client } = request;
    const subject = await oidc.accessTokens.verify(request.subjectToken);
    if (!subject) throw refuseGrant('subject_token is not an active access token.');
    assertMayExchange(subject, client);
    // A sender-constrained subject is exchanged only by its holder (a proof with its key), so exchange cannot unbind it.
    const subjectJkt = dpopThumbprintOf(subject);
    if (subjectJkt !== undefined && subjectJkt !== request.dpopJkt) throw refuseGrant('subject_token is bound to a DPoP key: present a DPoP proof made with that key.');
    const lineage = lineageFrom(subject, oidc.tokenIds);
    if (!lineage) throw refuseGrant(`subject_token is already ${MAX_LINEAGE_DEPTH} exchanges away from its origin; exchange an earlier token instead.`);

    const policy = await this.targetOf(subject, request.audience, client);
    const available = intersect(subject.scopes.filter((scope) => !isOidcScope(scope)), apiScopesOf(client), policy.scopes);
    const scopes = narrowScopes(request.scopes, available, 'The subject token');

    const lifetime = Math.min(this.deps.audiences.lifetimeFor(policy.audience, policy.accessTokenTtl), subject.exp - epochSeconds(this.clock));
    if (lifetime < 1) throw refuseGrant('subject_token has expired.');
    const claims: Record<string, unknown> = {};
    for (const name of INHERITED_CLAIMS) if (subject.claims[name] !== undefined) claims[name] = subject.claims[name];
    claims[LINEAGE_CLAIM] = lineage;
    // A token of an API key is signed only while the database says the key works (as at /auth/login).
    if (typeof claims.api_key_id === 'string') await this.deps.keyLiveness.assertCurrent(claims.api_key_id, subject.sub);

    await oidc.ready();
    const minted = await mintTokens({
      provider: oidc.host.provider,
      signingKid: oidc.host.keyRing.signingKid,
      client,
      grantType: TOKEN_EXCHANGE_GRANT,
      accountId: subject.accountId,
      scopes,
      policy,
      lifetime,
      claims,
      sid: typeof claims.sid === 'string' ? claims.sid : undefined,
      // The same client: the engine's own grant family (opaque tokens are checked against the
      // grant's client, so another client's token links to the grant through its lineage instead).
      grantId: subject.clientId === client.clientId ? subject.grantId : undefined,
      clock: this.clock,
      dpopJkt: request.dpopJkt,
    });
    return {
      accessToken: minted.accessToken,
      tokenType: minted.tokenType,
      expiresAt: minted.exp,
      scope: scopes.join(' '),
      sessionId: typeof claims.session_id === 'string' ? claims.session_id : undefined,
      refreshToken: undefined,
      reused: false,
    };
  }

  /**
   * The audience of the new token: the one asked for when the subject already has it (or the
   * subject's only audience when none is asked for). A confidential client may also retarget to a
   * registered resource server the subject's client may itself obtain tokens for; never to the
   * issuer (Keyport's own APIs), which only a token that was issued for it may reach.
   */
  private async targetOf(subject: VerifiedAccessToken, requested: string | undefined, caller: EngineClient): Promise<ResourceServerPolicy> {
    const held = audiencesOf(subject);
    if (requested === undefined) {
      if (held.length === 1) return this.deps.audiences.policyFor(held[0]!);
      throw refuseTarget(held.length === 0
        ? 'subject_token has no audience; name the audience (resource) of the new token.'
        : 'subject_token has several audiences; name the one the new token is for.');
    }
    if (held.includes(requested)) return this.deps.audiences.policyFor(requested);
    const { resourceServers } = this.deps.oidc;
    if (caller.clientAuthMethod !== 'none' && requested !== resourceServers.defaultAudience) {
      const policy = await resourceServers.find(requested);
      if (policy && (await this.subjectClientMayUse(subject.clientId, policy))) return policy;
    }
    throw refuseTarget('The audience may only narrow: ask for an audience the subject token already has.');
  }

  /** Whether the subject's client could obtain a token for this resource server itself (some scope in common). */
  private async subjectClientMayUse(clientId: string, policy: ResourceServerPolicy): Promise<boolean> {
    const provider = await this.deps.oidc.ready();
    const owner = await provider.Client.find(clientId);
    if (!owner) return false;
    const scopes = apiScopesOf(owner);
    return (policy.scopes === null ? scopes : intersect(scopes, policy.scopes)).length > 0;
  }
}
