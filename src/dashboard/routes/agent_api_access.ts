import type Router from '@koa/router';
import type { KeyportContext } from '../../http/context.js';
import { ConfirmForm } from '../forms.js';
import { actorOf, checkCsrf, dashboardState, formOf, param, parseForm, requireAdmin, seeOther } from './steps.js';

/**
 * The "API access" section of an agent's page (views/dashboard/_agent_api_access.ejs): creating the
 * agent's access token (`agt_…`). Showing it once, rotating and revoking it are the key pages'
 * (`/dashboard/keys/:keyId/created|rotate|revoke`): the token is an API key.
 */
export function agentApiAccessRoutes(router: Router<KeyportContext['state'], KeyportContext>): void {
  router.post('/agents/:agentId/token', requireAdmin, checkCsrf, parseForm(ConfirmForm), async function createAgentToken(ctx) {
    const agentId = param(ctx, 'agentId');
    if (formOf<ConfirmForm>(ctx).confirm !== 'yes') return seeOther(ctx, `/dashboard/agents/${encodeURIComponent(agentId)}#api-access`);
    const created = await ctx.services.keys.agentTokens.create(agentId, {}, actorOf(ctx));
    // POST/redirect/GET through the one-time reveals, as for a new key: never in a URL or a cookie.
    ctx.services.dashboard.reveals.put(dashboardState(ctx).session!.id, created.key.id, created.apiKey);
    seeOther(ctx, `/dashboard/keys/${encodeURIComponent(created.key.id)}/created`);
  });
}
