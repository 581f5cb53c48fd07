import type { KeyportRouter } from '../../http/context.js';
import type { KeyServices } from '../../keys/index.js';
import { ConfirmForm } from '../forms.js';
import type { DashboardServices } from '../index.js';
import { actorOf, checkCsrf, dashboardState, formOf, param, parseForm, requireAdmin, seeOther } from './steps.js';

/** What creating an agent's access token reaches: the agent-token service and the one-time reveals. */
export interface DashboardAgentApiAccessRouteServices {
  readonly keys: Pick<KeyServices, 'agentTokens'>;
  readonly dashboard: Pick<DashboardServices, 'reveals'>;
}

/**
 * The "API access" section of an agent's page (views/dashboard/_agent_api_access.ejs): creating the
 * agent's access token (`agt_…`). Showing it once, rotating and revoking it are the key pages'
 * (`/dashboard/keys/:keyId/created|rotate|revoke`): the token is an API key.
 */
export function agentApiAccessRoutes<S extends DashboardAgentApiAccessRouteServices>(router: KeyportRouter<S>): void {
  router.post('/agents/:agentId/token', requireAdmin, checkCsrf, parseForm(ConfirmForm), async function createAgentToken(ctx) {
    const agentId = param(ctx, 'agentId');
    if (formOf<ConfirmForm>(ctx).confirm !== 'yes') return seeOther(ctx, `/dashboard/agents/${encodeURIComponent(agentId)}#api-access`);
    const created = await ctx.services.keys.agentTokens.create(agentId, {}, actorOf(ctx));
    // POST/redirect/GET through the one-time reveals, as for a new key: never in a URL or a cookie.
    ctx.services.dashboard.reveals.put(dashboardState(ctx).session!.id, created.key.id, created.apiKey);
    seeOther(ctx, `/dashboard/keys/${encodeURIComponent(created.key.id)}/created`);
  });
}
