import { toClientView, type ClientView } from '../../clients/client_service.js';
import type { OAuthClient } from '../../db/entities/oauth_client.js';
import type { KeyportContext } from '../../http/context.js';
import { quoteId } from '../../keys/context.js';
import { NotFound } from '../../lib/errors.js';
import type { OidcServices } from '../../oidc/services.js';
import { actionContext, authenticateAdmin, type AdminAuthServices } from '../bearer_auth.js';
import { CreateClientBody, newClient } from '../dtos/clients.js';
import { created, readBody, readEmptyBody, readEmptyQuery } from '../http.js';
import type { AdminRouter, AdminRouteStep } from '../route_types.js';

/** What `/admin/clients` reaches: the OAuth client service. */
export interface AdminClientRouteServices {
  readonly oidc: Pick<OidcServices, 'clients'>;
}

/** What `client:create --json` prints: the id, the secret (shown once; none for public clients), the rest. */
function withSecret(client: OAuthClient, clientSecret: string | undefined): Omit<ClientView, 'client_id'> & { client_id: string; client_secret?: string } {
  const { client_id: clientId, ...rest } = toClientView(client);
  return { client_id: clientId, ...(clientSecret ? { client_secret: clientSecret } : {}), ...rest };
}

async function existingClient(ctx: KeyportContext<AdminClientRouteServices>, id: string): Promise<OAuthClient> {
  const client = await ctx.services.oidc.clients.get(id);
  if (!client) throw new NotFound(`No client with id ${quoteId(id)}.`);
  return client;
}

/** `DELETE /admin/clients/:id`, and `POST /admin/clients/:id/revoke`: `client:delete`. */
const deleteClient: AdminRouteStep<AdminClientRouteServices> = async function deleteClient(ctx) {
  readEmptyBody(ctx);
  const client = await existingClient(ctx, ctx.params.id!);
  await ctx.services.oidc.clients.delete(client.id, actionContext(ctx));
  ctx.body = { deleted: client.id };
};

/**
 * `/admin/clients`: the admin API twin of `client:create`, `client:list`, `client:delete`, plus
 * one client and secret rotation. Secrets appear once, in the answer that created them.
 */
export function clientRoutes<S extends AdminClientRouteServices & AdminAuthServices>(router: AdminRouter<S>): void {
  router.get('/clients', ...authenticateAdmin, async function listClients(ctx) {
    readEmptyQuery(ctx);
    const clients = await ctx.services.oidc.clients.list();
    ctx.body = { clients: clients.map(toClientView) };
  });

  router.post('/clients', ...authenticateAdmin, async function createClient(ctx) {
    const body = readBody(ctx, CreateClientBody);
    const { client, clientSecret } = await ctx.services.oidc.clients.create(newClient(body), actionContext(ctx));
    created(ctx, `/admin/clients/${client.id}`, withSecret(client, clientSecret));
  });

  router.get('/clients/:id', ...authenticateAdmin, async function showClient(ctx) {
    ctx.body = { client: toClientView(await existingClient(ctx, ctx.params.id!)) };
  });

  router.post('/clients/:id/rotate', ...authenticateAdmin, async function rotateClientSecret(ctx) {
    readEmptyBody(ctx);
    const existing = await existingClient(ctx, ctx.params.id!);
    const { client, clientSecret } = await ctx.services.oidc.clients.rotateSecret(existing.id, actionContext(ctx));
    ctx.body = withSecret(client, clientSecret);
  });

  router.post('/clients/:id/revoke', ...authenticateAdmin, deleteClient);
  router.delete('/clients/:id', ...authenticateAdmin, deleteClient);
}
