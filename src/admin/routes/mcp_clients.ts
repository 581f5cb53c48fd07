import type { AuditLog } from '../../audit/audit_log.js';
import { toMetadataClientView } from '../../oidc/metadata_clients.js';
import { issueInitialAccessToken } from '../../oidc/registration.js';
import type { OidcServices } from '../../oidc/services.js';
import { actionContext, authenticateAdmin, type AdminAuthServices } from '../bearer_auth.js';
import { IssueRegistrationTokenBody, MetadataClientBody } from '../dtos/mcp_clients.js';
import { readBody, readEmptyQuery } from '../http.js';
import type { AdminRouter } from '../route_types.js';

/** What the registration-token and metadata-client routes reach: the engine's payload store, the metadata clients, the audit trail. */
export interface AdminMcpClientRouteServices {
  readonly oidc: Pick<OidcServices, 'payloads' | 'metadataDocuments'>;
  readonly audit: Pick<AuditLog, 'record'>;
}

/** Default lifetime of an initial access token (as `client:registration-token`). */
const DEFAULT_REGISTRATION_TOKEN_TTL = 86_400;

/**
 * Clients without prior registration (docs/oauth.md): initial access tokens for dynamic
 * registration, and the clients known by a metadata document URL (list, block, unblock). The admin API twins
 * of `client:registration-token`, `client:list` (its metadata clients), `client:block`, `client:unblock`.
 */
export function mcpClientRoutes<S extends AdminMcpClientRouteServices & AdminAuthServices>(router: AdminRouter<S>): void {
  router.post('/registration-tokens', ...authenticateAdmin, async function issueRegistrationToken(ctx) {
    const body = readBody(ctx, IssueRegistrationTokenBody);
    const { token, expiresAt } = await issueInitialAccessToken(ctx.services.oidc.payloads, body.ttl_seconds ?? DEFAULT_REGISTRATION_TOKEN_TTL);
    const by = actionContext(ctx);
    await ctx.services.audit.record({ action: 'client.registration_token_issued', actor: by.actor, ip: by.ip, targetType: 'client', targetId: 'registration', details: { expires_at: expiresAt.toISOString() } });
    ctx.status = 201;
    ctx.body = { initial_access_token: token, expires_at: expiresAt.toISOString() };
  });

  router.get('/metadata-clients', ...authenticateAdmin, async function listMetadataClients(ctx) {
    readEmptyQuery(ctx);
    ctx.body = { metadata_clients: (await ctx.services.oidc.metadataDocuments.store.list()).map(toMetadataClientView) };
  });

  router.post('/metadata-clients/block', ...authenticateAdmin, async function blockMetadataClient(ctx) {
    const body = readBody(ctx, MetadataClientBody);
    ctx.body = { metadata_client: toMetadataClientView(await ctx.services.oidc.metadataDocuments.store.block(body.client_id, actionContext(ctx))) };
  });

  router.post('/metadata-clients/unblock', ...authenticateAdmin, async function unblockMetadataClient(ctx) {
    const body = readBody(ctx, MetadataClientBody);
    ctx.body = { metadata_client: toMetadataClientView(await ctx.services.oidc.metadataDocuments.store.unblock(body.client_id, actionContext(ctx))) };
  });
}
