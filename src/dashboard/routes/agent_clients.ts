import { toClientView } from '../../clients/client_service.js';
import type { Config } from '../../config/config.js';
import type { KeyportContext, KeyportRouter } from '../../http/context.js';
import { InvalidRequest } from '../../lib/errors.js';
import type { OidcServices } from '../../oidc/services.js';
import { ConfirmForm } from '../forms.js';
import { renderDashboardPage } from '../views.js';
import { actorOf, checkCsrf, formOf, parseForm, requireAdmin, seeOther } from './steps.js';

/** What the "Agents & MCP clients" pages reach: the clients, the metadata-document clients, whether registration is open. */
export interface DashboardAgentClientRouteServices {
  readonly oidc: Pick<OidcServices, 'clients' | 'metadataDocuments'>;
  readonly config: Pick<Config, 'clientRegistration'>;
}

const NOTICES: Record<string, string> = {
  blocked: 'The client is blocked. Its tokens stop working at once and it cannot sign anyone in.',
  unblocked: 'The client may sign users in again (its old tokens stay revoked).',
};

/** The client_id URL named in the query (`?url=`), as blocking needs it. */
function urlOf(ctx: KeyportContext<unknown>): string {
  const url = ctx.query.url;
  if (typeof url !== 'string' || url.length === 0 || url.length > 191) throw new InvalidRequest('Name the client by its client_id URL.');
  return url;
}

/**
 * "Agents & MCP clients": clients that came in without an operator registering them (docs/oauth.md
 * "Clients without prior registration"): those known by a metadata document URL (first and last
 * use, block with confirmation) and those registered dynamically (expiry; deleted on the clients page).
 */
export function agentClientRoutes<S extends DashboardAgentClientRouteServices>(router: KeyportRouter<S>): void {
  router.get('/agent-clients', requireAdmin, async function listAgentClients(ctx) {
    const { oidc } = ctx.services;
    const registered = (await oidc.clients.list()).filter((client) => client.registration === 'dynamic').map(toClientView);
    await renderDashboardPage(ctx, 200, 'agent_clients', {
      title: 'Agents & MCP clients',
      section: 'agent-clients',
      metadataClients: await oidc.metadataDocuments.store.list(),
      registered,
      metadataDocuments: oidc.metadataDocuments.enabled,
      registration: ctx.services.config.clientRegistration.registration,
      notice: typeof ctx.query.done === 'string' ? NOTICES[ctx.query.done] : undefined,
    });
  });

  for (const blocking of [true, false]) {
    const verb = blocking ? 'block' : 'unblock';
    router.get(`/agent-clients/${verb}`, requireAdmin, async function confirmBlock(ctx) {
      const url = urlOf(ctx);
      await renderDashboardPage(ctx, 200, 'confirm', {
        title: blocking ? 'Block this client?' : 'Unblock this client?',
        section: 'agent-clients',
        action: `/dashboard/agent-clients/${verb}?url=${encodeURIComponent(url)}`,
        cancel: '/dashboard/agent-clients',
        button: blocking ? 'Block client' : 'Unblock client',
        lines: blocking
          ? [`The client ${url} is refused from now on: its document is not fetched, nobody can sign in with it, and its tokens stop working at once.`]
          : [`The client ${url} may ask users to sign in again. Tokens it held stay revoked.`],
      });
    });

    router.post(`/agent-clients/${verb}`, requireAdmin, checkCsrf, parseForm(ConfirmForm), async function block(ctx) {
      const url = urlOf(ctx);
      if (formOf<ConfirmForm>(ctx).confirm !== 'yes') return seeOther(ctx, `/dashboard/agent-clients/${verb}?url=${encodeURIComponent(url)}`);
      const store = ctx.services.oidc.metadataDocuments.store;
      await (blocking ? store.block(url, actorOf(ctx)) : store.unblock(url, actorOf(ctx)));
      return seeOther(ctx, `/dashboard/agent-clients?done=${blocking ? 'blocked' : 'unblocked'}`);
    });
  }
}
