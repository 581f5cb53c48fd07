import { errors, jwtVerify, type JWTPayload } from 'jose';
import { AuthorizationServer } from './authorization_server.js';
import { looksLikeJwt, readCredential } from './bearer.js';
import { AuthFailure, bearerChallenge, insufficientScope, invalidDpopProof, invalidToken, missingToken, unavailable } from './challenge.js';
import { DPOP_ALGORITHMS, DpopProofChecker, DpopProofRefused, type DpopOptions } from './dpop.js';
import { audiences, toAuth, type KeyportAuth } from './claims.js';
import { CircuitOpenError } from './circuit_breaker.js';
import { Introspector, type IntrospectionAnswer, type IntrospectionOptions } from './introspection.js';
import { RemoteKeySet } from './jwks.js';
import { protectedResourceMetadata, protectedResourceMetadataPath, protectedResourceMetadataUrl, type ProtectedResourceMetadata } from './metadata.js';
import { UpstreamError, type Fetch } from './upstream.js';

export interface VerifierOptions {
  /** Keyport's issuer, exactly as in its discovery document (e.g. `https://keyport.example.com`). */
  readonly issuer: string;
  /** This API's resource identifier (RFC 9728; an absolute URL, usually where the API is served). */
  readonly resource: string;
  /**
   * Token audiences this API accepts (default: `resource`). Tokens from POST /auth/login are for
   * Keyport's default audience, the issuer: an API that serves agents with such tokens lists it too.
   */
  readonly audience?: string | readonly string[];
  /** Published in the metadata document. */
  readonly scopesSupported?: readonly string[];
  readonly resourceName?: string;
  readonly resourceDocumentation?: string;
  /**
   * Enables introspection: for routes that must see a revocation at once (`introspect: true`) and
   * for opaque tokens, which can only be checked that way.
   */
  readonly introspection?: IntrospectionOptions;
  /** Default: `jwks_uri` from Keyport's metadata. */
  readonly jwksUri?: string;
  /** Leeway for `exp`/`nbf`, in seconds (default 5). */
  readonly clockToleranceSeconds?: number;
  /** Refresh the key set when it is older than this (default 600 s). */
  readonly jwksMaxAgeSeconds?: number;
  /** At most one JWKS reload per this many seconds is caused by unknown `kid`s (default 10). */
  readonly jwksCooldownSeconds?: number;
  /** Time limit of discovery and JWKS requests (default 5000 ms). */
  readonly httpTimeoutMs?: number;
  /** Told when Keyport cannot be reached or answers nonsense (for the API's logs). */
  readonly onUpstreamError?: (error: Error) => void;
  readonly fetch?: Fetch;
  /**
   * Accept DPoP-bound tokens (RFC 9449) as `Authorization: DPoP <token>` with a `DPoP` proof
   * header: the proof is checked (key = the token's `cnf.jkt`, `htm`, `htu`, `iat`, `ath`, `jti`
   * once). Without it, DPoP-bound tokens are refused and the DPoP scheme counts as no credential.
   */
  readonly dpop?: DpopOptions;
}

/** The request a DPoP proof must name (the adapters fill it in). */
export interface RequestInfo {
  readonly method: string;
  /** The URL the request was made to, as the client saw it (scheme, host, path; a query is ignored). */
  readonly url: string;
  /** The `DPoP` header(s). */
  readonly dpop?: string | readonly string[];
}

/** What one route needs from the token. */
export interface RouteRequirement {
  /** Every one of these scopes (default: none beyond a valid token). */
  readonly scopes?: readonly string[];
  /** Ask Keyport too, so a revoked token is refused within `introspection.cacheSeconds`. */
  readonly introspect?: boolean;
}

/** How a framework adapter answers a refused request. */
export interface AuthRefusal {
  readonly status: 401 | 403 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { readonly error: string; readonly error_description: string };
  readonly failure: AuthFailure;
}

export type AuthOutcome = { readonly ok: true; readonly auth: KeyportAuth } | ({ readonly ok: false } & AuthRefusal);

/** Signature algorithms Keyport may sign with; symmetric ones and `none` never verify. */
const ASYMMETRIC_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'];
/** RFC 9068 §2.2: required in every JWT access token. */
const REQUIRED_CLAIMS = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'];
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function absoluteUrl(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`@keyport/verify: ${name} is required`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`@keyport/verify: ${name} must be an absolute URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`@keyport/verify: ${name} must be an http(s) URL`);
  if (url.hash) throw new TypeError(`@keyport/verify: ${name} must not have a fragment`);
  return value;
}

/**
 * The framework-free core: reads the bearer token, verifies it (locally against Keyport's JWKS,
 * and through introspection where asked or where the token is opaque), checks scopes, and turns
 * every refusal into the RFC 6750 status, `WWW-Authenticate` challenge and body. The Koa, Express
 * and Fastify adapters only move these results in and out of their request objects.
 */
export class KeyportVerifier {
  readonly issuer: string;
  readonly resource: string;
  readonly audiences: readonly string[];
  /** Where the RFC 9728 metadata document is served, e.g. `/.well-known/oauth-protected-resource`. */
  readonly metadataPath: string;
  readonly metadataUrl: string;
  readonly keySet: RemoteKeySet;
  readonly introspector: Introspector | undefined;
  private readonly clockTolerance: number;
  private readonly document: ProtectedResourceMetadata;
  private readonly checked = new WeakSet<object>();
  private readonly dpop: DpopProofChecker | undefined;

  constructor(readonly options: VerifierOptions) {
    this.issuer = absoluteUrl('issuer', options.issuer);
    this.resource = absoluteUrl('resource', options.resource);
    const accepted = options.audience === undefined ? [this.resource] : typeof options.audience === 'string' ? [options.audience] : [...options.audience];
    if (accepted.length === 0) throw new TypeError('@keyport/verify: audience must name at least one audience');
    this.audiences = accepted;
    this.metadataPath = protectedResourceMetadataPath(this.resource);
    this.metadataUrl = protectedResourceMetadataUrl(this.resource);
    this.clockTolerance = options.clockToleranceSeconds ?? 5;
    this.dpop = options.dpop ? new DpopProofChecker(options.dpop, this.clockTolerance) : undefined;
    for (const scope of options.scopesSupported ?? []) if (!SCOPE_TOKEN.test(scope)) throw new TypeError(`@keyport/verify: invalid scope ${JSON.stringify(scope)}`);
    this.document = protectedResourceMetadata({
      resource: this.resource, issuer: this.issuer, scopesSupported: options.scopesSupported,
      resourceName: options.resourceName, resourceDocumentation: options.resourceDocumentation,
    });

    const fetchImpl = options.fetch ?? globalThis.fetch;
    const timeoutMs = options.httpTimeoutMs ?? 5000;
    const server = new AuthorizationServer(this.issuer, { jwksUri: options.jwksUri, introspectionEndpoint: options.introspection?.endpoint }, fetchImpl, timeoutMs);
    this.keySet = new RemoteKeySet({
      uri: async () => (await server.resolve()).jwksUri,
      fetch: fetchImpl,
      timeoutMs,
      maxAgeMs: (options.jwksMaxAgeSeconds ?? 600) * 1000,
      cooldownMs: (options.jwksCooldownSeconds ?? 10) * 1000,
      onError: options.onUpstreamError,
    });
    if (options.introspection) {
      const { clientId, clientSecret } = options.introspection;
      if (!clientId || !clientSecret) throw new TypeError('@keyport/verify: introspection needs clientId and clientSecret');
      this.introspector = new Introspector(options.introspection, async () => {
        const endpoint = (await server.resolve()).introspectionEndpoint;
        if (!endpoint) throw new UpstreamError("Keyport's metadata names no introspection_endpoint");
        return endpoint;
      }, fetchImpl);
    }
  }

  /** The RFC 9728 document to serve at `metadataPath`. */
  metadata(): ProtectedResourceMetadata {
    return this.document;
  }

  /**
   * Checks a route's requirement (scope syntax; introspection configured when asked for). The
   * adapters call this once, when the route is declared, so a mistake stops the API at start.
   */
  requirement(input: RouteRequirement | readonly string[] = {}): Required<RouteRequirement> {
    if (!Array.isArray(input) && this.checked.has(input as object)) return input as Required<RouteRequirement>;
    const requirement: RouteRequirement = Array.isArray(input) ? { scopes: input } : (input as RouteRequirement);
    const scopes = [...new Set(requirement.scopes ?? [])];
    for (const scope of scopes) if (!SCOPE_TOKEN.test(scope)) throw new TypeError(`@keyport/verify: invalid scope ${JSON.stringify(scope)}`);
    const introspect = requirement.introspect === true;
    if (introspect && !this.introspector) throw new TypeError('@keyport/verify: introspect: true needs the introspection option (client credentials of this API)');
    const checked = Object.freeze({ scopes: Object.freeze(scopes), introspect });
    this.checked.add(checked);
    return checked;
  }

  /**
   * Everything a framework adapter needs: the Authorization header in, either the caller's claims
   * or the complete refusal (status, headers, body) out. Never throws for anything a client sends.
   */
  async authenticate(authorization: string | readonly string[] | undefined, requirement: RouteRequirement | readonly string[] = {}, request?: RequestInfo): Promise<AuthOutcome> {
    const route = this.requirement(requirement);
    try {
      return { ok: true, auth: await this.check(authorization, route, request) };
    } catch (error) {
      const failure = error instanceof AuthFailure ? error : unavailable('Could not check the access token.', 1, error);
      return { ok: false, ...this.refusal(failure, route.scopes) };
    }
  }

  /** Verifies one token (already taken out of its header) against a route's requirement; throws AuthFailure. */
  async verify(token: string, requirement: RouteRequirement | readonly string[] = {}): Promise<KeyportAuth> {
    return this.check(`Bearer ${token}`, this.requirement(requirement));
  }

  /** The status, challenge and body for a failure. */
  refusal(failure: AuthFailure, scopes: readonly string[]): AuthRefusal {
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (failure.status === 503) headers['retry-after'] = String(failure.retryAfterSeconds ?? 1);
    else headers['www-authenticate'] = bearerChallenge({ failure, scopes, resourceMetadataUrl: this.metadataUrl, dpopAlgorithms: DPOP_ALGORITHMS });
    return { status: failure.status, headers, body: { error: failure.code, error_description: failure.description }, failure };
  }

  private async check(authorization: string | readonly string[] | undefined, route: Required<RouteRequirement>, request?: RequestInfo): Promise<KeyportAuth> {
    const presented = readCredential(authorization, this.dpop !== undefined && request !== undefined);
    if (presented.kind === 'token' && presented.scheme === 'DPoP') {
      try {
        return await this.checkDpop(presented.token, route, request!);
      } catch (error) {
        if (error instanceof AuthFailure && error.status === 401) error.scheme = 'DPoP';
        throw error;
      }
    }
    if (presented.kind === 'none') throw missingToken();
    if (presented.kind === 'malformed') throw invalidToken(`The Authorization header is malformed: ${presented.reason}.`);
    if (presented.kind === 'api_key') throw invalidToken('API keys are not accepted here: exchange the key for an access token at Keyport (POST /auth/login).');
    const { token } = presented;

    let auth: KeyportAuth;
    if (looksLikeJwt(token)) {
      const claims = await this.verifyJwt(token);
      auth = route.introspect ? toAuth({ ...claims, ...(await this.introspect(token)) }, 'jwt+introspection') : toAuth(claims, 'jwt');
    } else {
      if (!this.introspector) throw invalidToken('The access token is not a JWT, and this API does not introspect tokens.');
      auth = toAuth(await this.introspect(token), 'introspection');
    }
    const missing = route.scopes.filter((scope) => !auth.scopes.includes(scope));
    if (missing.length) throw insufficientScope(route.scopes);
    return auth;
  }

  /** RFC 9449 §7: a DPoP-bound token with the proof of its key for this request. */
  private async checkDpop(token: string, route: Required<RouteRequirement>, request: RequestInfo): Promise<KeyportAuth> {
    const proofs = request.dpop === undefined ? [] : typeof request.dpop === 'string' ? [request.dpop] : [...request.dpop];
    if (proofs.length !== 1 || !proofs[0]) throw invalidDpopProof('A DPoP request needs exactly one DPoP header.');
    let claims: Record<string, unknown>;
    let verifiedBy: KeyportAuth['verified_by'];
    if (looksLikeJwt(token)) {
      const payload = await this.verifyJwt(token, true);
      claims = route.introspect ? { ...payload, ...(await this.introspect(token, true)) } : payload;
      verifiedBy = route.introspect ? 'jwt+introspection' : 'jwt';
    } else {
      if (!this.introspector) throw invalidToken('The access token is not a JWT, and this API does not introspect tokens.');
      claims = await this.introspect(token, true);
      verifiedBy = 'introspection';
    }
    const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt;
    if (typeof jkt !== 'string') throw invalidToken('The access token is not bound to a DPoP key: send it as a Bearer token.');
    const urls = [request.url];
    try {
      urls.push(new URL(new URL(request.url).pathname, this.resource).href);
    } catch {
      // A URL the adapter could not build: only what it gave is compared.
    }
    try {
      await this.dpop!.check(proofs[0], { method: request.method.toUpperCase(), urls, accessToken: token, jkt });
    } catch (error) {
      if (error instanceof DpopProofRefused) throw invalidDpopProof(error.message);
      throw error;
    }
    const auth = toAuth(claims, verifiedBy);
    const missing = route.scopes.filter((scope) => !auth.scopes.includes(scope));
    if (missing.length) throw insufficientScope(route.scopes);
    return auth;
  }

  private async verifyJwt(token: string, bound = false): Promise<JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet.getKey, {
        issuer: this.issuer,
        audience: [...this.audiences],
        typ: 'at+jwt',
        algorithms: ASYMMETRIC_ALGORITHMS,
        clockTolerance: this.clockTolerance,
        requiredClaims: REQUIRED_CLAIMS,
      }));
    } catch (error) {
      throw this.jwtFailure(error);
    }
    if (!bound) this.checkBinding(payload.cnf);
    if (typeof payload.client_id !== 'string') throw invalidToken('The access token has no client_id.');
    return payload;
  }

  private jwtFailure(error: unknown): AuthFailure {
    if (error instanceof UpstreamError) {
      this.options.onUpstreamError?.(error);
      return unavailable("Keyport's signing keys cannot be fetched right now.", 5, error);
    }
    if (error instanceof errors.JWTExpired) return invalidToken('The access token has expired.', error);
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.claim === 'aud') return invalidToken('The access token is not meant for this API (audience).', error);
      if (error.claim === 'iss') return invalidToken('The access token was not issued by the expected Keyport (issuer).', error);
      if (error.claim === 'typ') return invalidToken('The token is not an access token (typ must be at+jwt).', error);
      return invalidToken(`The access token's ${error.claim} claim is missing or invalid.`, error);
    }
    if (error instanceof errors.JWKSNoMatchingKey) return invalidToken('The access token is signed by a key Keyport does not publish.', error);
    if (error instanceof errors.JWSSignatureVerificationFailed) return invalidToken('The access token signature is invalid.', error);
    if (error instanceof errors.JOSEAlgNotAllowed) return invalidToken('The access token is signed with an algorithm Keyport does not use.', error);
    return invalidToken('The access token is malformed.', error);
  }

  /** RFC 9449 §7.2: a DPoP-bound token must not be accepted as a bearer token (only as `DPoP`, with the `dpop` option). */
  private checkBinding(cnf: unknown): void {
    if (cnf !== undefined) throw invalidToken('The access token is bound to a key (DPoP) and cannot be used as a bearer token.');
  }

  /** Asks Keyport; refuses anything that is not an active access token for this API. */
  private async introspect(token: string, bound = false): Promise<Record<string, unknown>> {
    let answer: IntrospectionAnswer;
    try {
      answer = await this.introspector!.introspect(token);
    } catch (error) {
      if (error instanceof CircuitOpenError) throw unavailable('Keyport introspection is failing; try again shortly.', Math.max(1, Math.ceil(error.retryAfterMs / 1000)), error);
      if (error instanceof Error) this.options.onUpstreamError?.(error);
      throw unavailable('Keyport introspection is unavailable right now.', 1, error);
    }
    if (!answer.active) throw invalidToken('The access token is not active (expired or revoked).');
    // Refresh tokens are introspectable too, and carry no token_type.
    const tokenType = typeof answer.token_type === 'string' ? answer.token_type.toLowerCase() : undefined;
    if (bound) {
      if (tokenType === 'bearer') throw invalidToken('The access token is not bound to a DPoP key: send it as a Bearer token.');
      if (tokenType !== 'dpop') throw invalidToken('The token is not an access token.');
    } else {
      if (tokenType === 'dpop') this.checkBinding(answer.cnf ?? {});
      if (tokenType !== 'bearer') throw invalidToken('The token is not an access token.');
      this.checkBinding(answer.cnf);
    }
    if (answer.iss !== undefined && answer.iss !== this.issuer) throw invalidToken('The access token was not issued by the expected Keyport (issuer).');
    if (!audiences(answer.aud).some((aud) => this.audiences.includes(aud))) throw invalidToken('The access token is not meant for this API (audience).');
    if (typeof answer.exp !== 'number' || answer.exp * 1000 <= Date.now() - this.clockTolerance * 1000) throw invalidToken('The access token has expired.');
    if (typeof answer.client_id !== 'string') throw invalidToken('The access token has no client_id.');
    return answer;
  }
}

/** The framework-free verifier; the adapters (`@keyport/verify/koa`, `/express`, `/fastify`) wrap one. */
export function createVerifier(options: VerifierOptions): KeyportVerifier {
  return new KeyportVerifier(options);
}
