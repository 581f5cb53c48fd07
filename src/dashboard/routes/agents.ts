import type { Config } from '../../config/config.js';
import type { ApiKeyExchange } from '../../exchange/index.js';
import type { KeyportContext, KeyportRouter } from '../../http/context.js';
import { keyStatus, type AgentRecord, type KeyServices } from '../../keys/index.js';
import { validateEmail, validateName } from '../../keys/key_settings.js';
import { Conflict, KeyportError } from '../../lib/errors.js';
import { agentCrumbs } from '../crumbs.js';
import { renderUsageChart } from '../usage_chart.js';
import { ConfirmForm, CsrfOnlyForm, NewAgentForm } from '../forms.js';
import type { FieldErrors } from '../key_form.js';
import type { DashboardServices } from '../index.js';
import { renderDashboardPage } from '../views.js';
import { actorOf, checkCsrf, formOf, param, parseForm, requireAdmin, seeOther } from './steps.js';

/**
 * What the agent pages reach: agents and their keys, usage and key counts, the agent's API-key
 * sessions (listed through the dashboard, ended through the exchange), the default rate limits.
 */
export interface DashboardAgentRouteServices {
  readonly keys: Pick<KeyServices, 'agents' | 'apiKeys'>;
  readonly dashboard: Pick<DashboardServices, 'keyStats' | 'usage' | 'apiKeySessions'>;
  readonly exchange: Pick<ApiKeyExchange, 'sessionDirectory'>;
  readonly config: Pick<Config, 'rateLimit'>;
}

/** How many agents the list reads; the search filters those. */
const AGENT_LIST_LIMIT = 1000;
const SESSIONS_SHOWN = 50;

type AgentField = 'name' | 'contact_email';
interface AgentFormValues { name: string; contact_email: string }

const NOTICES: Record<string, string> = {
  key_revoked: 'The key was revoked. It stops working at once, on every instance.',
  agent_revoked: 'The agent and all its keys were revoked.',
  session_ended: 'The session was ended. Its tokens stopped working at once, on every instance.',
  session_gone: 'That session had already ended or expired; nothing was changed.',
};

function noticeOf(ctx: KeyportContext<DashboardAgentRouteServices>): string | undefined {
  return typeof ctx.query.done === 'string' ? NOTICES[ctx.query.done] : undefined;
}

function searchTerm(ctx: KeyportContext<DashboardAgentRouteServices>): string {
  const q = ctx.query.q;
  return typeof q === 'string' ? q.trim().slice(0, 100) : '';
}

function fieldProblem(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    if (err instanceof KeyportError && err.code === 'invalid_request') {
      const text = err.message.replace(/^[a-z ]+: /, '');
      return text.charAt(0).toUpperCase() + text.slice(1);
    }
    throw err;
  }
}

async function renderAgentList(ctx: KeyportContext<DashboardAgentRouteServices>, status: number, form: { values: AgentFormValues; errors: FieldErrors<AgentField> }): Promise<void> {
  const q = searchTerm(ctx);
  const all = await ctx.services.keys.agents.list({ limit: AGENT_LIST_LIMIT });
  const needle = q.toLowerCase();
  const agents = needle ? all.filter((agent) => agent.name.toLowerCase().includes(needle) || agent.id.toLowerCase() === needle) : all;
  // Key counts and last use of every listed agent in one grouped query (not one per agent).
  const stats = await ctx.services.dashboard.keyStats.forAgents(agents.map((agent) => agent.id));
  await renderDashboardPage(ctx, status, 'agents', {
    title: 'Agents',
    section: 'agents',
    q,
    agents,
    stats,
    truncated: all.length >= AGENT_LIST_LIMIT,
    values: form.values,
    errors: form.errors,
  });
}

async function agentOr404(ctx: KeyportContext<DashboardAgentRouteServices>): Promise<AgentRecord> {
  return ctx.services.keys.agents.get(param(ctx, 'agentId'));
}

/** Agents: the list with search and the create form, one agent's page, and revoking an agent. */
export function agentRoutes<S extends DashboardAgentRouteServices>(router: KeyportRouter<S>): void {
  router.get('/agents', requireAdmin, async function listAgents(ctx) {
    await renderAgentList(ctx, 200, { values: { name: '', contact_email: '' }, errors: {} });
  });

  router.post('/agents', requireAdmin, checkCsrf, parseForm(NewAgentForm), async function createAgent(ctx) {
    const form = formOf<NewAgentForm>(ctx);
    const values = { name: form.name ?? '', contact_email: form.contact_email ?? '' };
    // The agent service's own validators, one field at a time, so every wrong field is named at once.
    const errors: FieldErrors<AgentField> = {};
    const nameProblem = fieldProblem(() => validateName(values.name, 'agent name'));
    const emailProblem = fieldProblem(() => validateEmail(values.contact_email));
    if (nameProblem) errors.name = nameProblem;
    if (emailProblem) errors.contact_email = emailProblem;
    if (nameProblem || emailProblem) return renderAgentList(ctx, 400, { values, errors });

    const agent = await ctx.services.keys.agents.create({ name: values.name, contactEmail: values.contact_email || null }, actorOf(ctx));
    return seeOther(ctx, `/dashboard/agents/${encodeURIComponent(agent.id)}`);
  });

  router.get('/agents/:agentId', requireAdmin, async function showAgent(ctx) {
    const agent = await agentOr404(ctx);
    const { keys, dashboard, config } = ctx.services;
    const apiKeys = await keys.apiKeys.list({ agentId: agent.id, limit: 1000 });
    const usage = await dashboard.usage.summaries(apiKeys.map((key) => key.id));
    const now = Date.now();
    const rows = apiKeys.map((key) => {
      const summary = usage.get(key.id)!;
      return {
        key,
        status: keyStatus(key, now),
        usage: summary,
        chart: renderUsageChart(summary.hourly, { label: `Requests per hour for ${key.prefix}`, width: 144, height: 32 }),
      };
    });
    const sessions = await dashboard.apiKeySessions.listActiveForAgent(agent.id, { limit: SESSIONS_SHOWN });
    const prefixes = new Map(apiKeys.map((key) => [key.id, key.prefix]));
    await renderDashboardPage(ctx, 200, 'agent', {
      title: `Agent ${agent.name}`,
      section: 'agents',
      crumbs: agentCrumbs(agent),
      agent,
      rows,
      sessions: sessions.map((session) => ({ ...session, keyPrefix: prefixes.get(session.keyId) ?? session.keyId })),
      sessionsShown: SESSIONS_SHOWN,
      defaults: config.rateLimit,
      notice: noticeOf(ctx),
    });
  });

  // Ends one API-key session of this agent through the exchange's session directory, which ends its
  // tokens and writes `session.ended` to the audit trail (actor user:usr_…), as the admin API does.
  router.post('/agents/:agentId/sessions/:sessionId/end', requireAdmin, checkCsrf, parseForm(CsrfOnlyForm), async function endAgentSession(ctx) {
    const agent = await agentOr404(ctx);
    const id = param(ctx, 'sessionId');
    const path = `/dashboard/agents/${encodeURIComponent(agent.id)}`;
    // Only a live session of this agent's keys: an id of another agent's session changes nothing.
    const live = await ctx.services.exchange.sessionDirectory.listSessions({ agentId: agent.id }, 1000);
    if (!live.some((session) => session.id === id)) return seeOther(ctx, `${path}?done=session_gone#sessions`);
    const ended = await ctx.services.exchange.sessionDirectory.endSessionById(id, actorOf(ctx));
    return seeOther(ctx, `${path}?done=${ended ? 'session_ended' : 'session_gone'}#sessions`);
  });

  router.get('/agents/:agentId/revoke', requireAdmin, async function confirmAgentRevocation(ctx) {
    const agent = await agentOr404(ctx);
    if (agent.status === 'revoked') throw new Conflict(`Agent ${agent.name} (${agent.id}) is already revoked.`);
    const activeKeys = (await ctx.services.keys.apiKeys.list({ agentId: agent.id, limit: 1000 })).filter((key) => keyStatus(key) === 'active');
    await renderDashboardPage(ctx, 200, 'confirm', {
      title: `Revoke agent ${agent.name}?`,
      section: 'agents',
      crumbs: agentCrumbs(agent, { text: 'Revoke' }),
      action: `/dashboard/agents/${encodeURIComponent(agent.id)}/revoke`,
      cancel: `/dashboard/agents/${encodeURIComponent(agent.id)}`,
      button: 'Revoke agent and its keys',
      lines: [
        `Agent ${agent.name} (${agent.id}) and its ${activeKeys.length} active key${activeKeys.length === 1 ? '' : 's'} stop working at once, on every instance.`,
        'Every session and token issued from those keys ends with them. This cannot be undone.',
      ],
    });
  });

  router.post('/agents/:agentId/revoke', requireAdmin, checkCsrf, parseForm(ConfirmForm), async function revokeAgent(ctx) {
    const agent = await agentOr404(ctx);
    const path = `/dashboard/agents/${encodeURIComponent(agent.id)}`;
    if (formOf<ConfirmForm>(ctx).confirm !== 'yes') return seeOther(ctx, `${path}/revoke`);
    await ctx.services.keys.agents.revoke(agent.id, actorOf(ctx));
    return seeOther(ctx, `${path}?done=agent_revoked`);
  });
}
