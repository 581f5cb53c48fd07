/** Error codes of the kit's answers: RFC 6750 §3.1 ones, plus `unauthorized` and `temporarily_unavailable`. */
export type AuthErrorCode = 'unauthorized' | 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable' | 'invalid_dpop_proof';

/**
 * Why a request was refused. `status` and `code` go on the wire; `description` is a fixed sentence
 * (never the token, never an upstream internal); `cause` is for the API's own logs.
 */
export class AuthFailure extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    readonly code: AuthErrorCode,
    readonly description: string,
    options: { cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(description, { cause: options.cause });
    this.name = 'AuthFailure';
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  readonly retryAfterSeconds: number | undefined;
  /** The scheme the credential came in: a DPoP request is answered with a DPoP challenge (RFC 9449 §7.1). */
  scheme: 'Bearer' | 'DPoP' = 'Bearer';
}

export const missingToken = (): AuthFailure => new AuthFailure(401, 'unauthorized', 'This API needs a Keyport access token in the Authorization header (Bearer).');
export const invalidToken = (description: string, cause?: unknown): AuthFailure => new AuthFailure(401, 'invalid_token', description, { cause });
export const insufficientScope = (required: readonly string[]): AuthFailure => new AuthFailure(403, 'insufficient_scope', `The access token lacks a required scope (needs: ${required.join(' ')}).`);
export const invalidDpopProof = (description: string): AuthFailure => Object.assign(new AuthFailure(401, 'invalid_dpop_proof', description), { scheme: 'DPoP' as const });
export const unavailable = (description: string, retryAfterSeconds: number, cause?: unknown): AuthFailure => new AuthFailure(503, 'temporarily_unavailable', description, { cause, retryAfterSeconds });

/** RFC 7230 quoted-string: backslash-escape `"` and `\`. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The `WWW-Authenticate` challenge (RFC 6750 §3 with RFC 9728 §5.1's `resource_metadata`). A
 * request without credentials gets no `error` (RFC 6750 §3.1); the required scopes ride along on
 * every 401 and 403 so a client knows what to ask Keyport for.
 */
export function bearerChallenge(input: { failure: AuthFailure; scopes: readonly string[]; resourceMetadataUrl: string; dpopAlgorithms?: readonly string[] }): string {
  const params: string[] = [];
  const { failure } = input;
  if (failure.code === 'invalid_token' || failure.code === 'insufficient_scope' || failure.code === 'invalid_dpop_proof') {
    params.push(`error=${quoted(failure.code)}`, `error_description=${quoted(failure.description)}`);
  }
  if (input.scopes.length) params.push(`scope=${quoted(input.scopes.join(' '))}`);
  params.push(`resource_metadata=${quoted(input.resourceMetadataUrl)}`);
  if (failure.scheme === 'DPoP') return `DPoP ${params.join(', ')}, algs="${(input.dpopAlgorithms ?? []).join(' ')}"`;
  return `Bearer ${params.join(', ')}`;
}
