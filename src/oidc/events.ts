import { isDatabaseOutage } from '../db/outage.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { Provider, type KoaContextWithOIDC } from './engine/index.js';

/** The grant behind a token: the token endpoint's grant_type when there is a request, else the token's own record. */
function grantOf(token: { gty?: string; kind?: string }): string {
  const grantType = Provider.ctx?.oidc?.params?.grant_type;
  if (typeof grantType === 'string') return grantType.length <= 80 ? grantType : 'other';
  if (token.kind === 'ClientCredentials') return 'client_credentials';
  return token.gty?.split(' ').pop() ?? 'unknown';
}

function requestIdOf(ctx: KoaContextWithOIDC | undefined): string | undefined {
  return (ctx?.state as { requestId?: string } | undefined)?.requestId;
}

/**
 * Feeds the provider's events to metrics and logs: every issued token counts in
 * keyport_tokens_issued_total{grant,kind}; engine failures are logged with the request ID.
 */
export function observeProvider(provider: Provider, metrics: Metrics, logger: Logger): void {
  const count = (kind: string) => (token: { gty?: string; kind?: string }) => {
    metrics.tokensIssued.inc({ grant: grantOf(token), kind });
  };
  // Opaque tokens are "saved" (stored); JWTs are "issued" (not stored).
  provider.on('access_token.saved', count('access_token'));
  provider.on('access_token.issued', count('access_token'));
  provider.on('client_credentials.saved', count('access_token'));
  provider.on('client_credentials.issued', count('access_token'));
  provider.on('refresh_token.saved', count('refresh_token'));

  provider.on('server_error', (ctx, err) => {
    // A database outage repeats for every request: no stack unless debugging (see error_handler.ts).
    const stack = err instanceof Error && (!isDatabaseOutage(err) || logger.isLevelEnabled('debug')) ? err.stack : undefined;
    logger.error('oidc request failed', { request_id: requestIdOf(ctx), route: ctx?.oidc?.route, err, stack });
  });
  for (const event of ['grant.error', 'authorization.error', 'introspection.error', 'revocation.error', 'userinfo.error', 'end_session.error', 'jwks.error', 'discovery.error'] as const) {
    (provider as unknown as NodeJS.EventEmitter).on(event, (ctx: KoaContextWithOIDC, err: Error & { error_description?: string }) => {
      logger.debug('oidc request refused', { request_id: requestIdOf(ctx), event, error: err.message, error_description: err.error_description });
    });
  }
  provider.on('grant.revoked', (ctx, grantId) => {
    logger.info('oidc grant revoked', { request_id: requestIdOf(ctx), grant_id: grantId, route: ctx?.oidc?.route });
  });
}
