import type Router from '@koa/router';
import type { KeyportContext } from '../../http/context.js';
import { renderDashboardPage } from '../views.js';
import { requireAdmin } from './steps.js';

export const AUDIT_PAGE_SIZES = [50, 100, 500] as const;
const DEFAULT_PAGE_SIZE = 100;

/** The target type the audit trail uses for each id prefix. */
const TARGET_TYPES: Record<string, string> = { agt: 'agent', key: 'api_key', cli: 'client', usr: 'user' };

function targetFilter(ctx: KeyportContext): { targetType: string; targetId: string } | undefined {
  const target = typeof ctx.query.target === 'string' ? ctx.query.target.trim() : '';
  const match = /^([a-z]{3})_[A-Za-z0-9]{1,60}$/.exec(target);
  const targetType = match ? TARGET_TYPES[match[1]!] : undefined;
  return targetType ? { targetType, targetId: target } : undefined;
}

/** The audit log: newest first, limited to a chosen number of rows, optionally for one agent, key, client or user. */
export function auditRoutes(router: Router<KeyportContext['state'], KeyportContext>): void {
  router.get('/audit', requireAdmin, async function showAudit(ctx) {
    const requested = Number(ctx.query.limit);
    const limit = (AUDIT_PAGE_SIZES as readonly number[]).includes(requested) ? requested : DEFAULT_PAGE_SIZE;
    const filter = targetFilter(ctx);
    const events = await ctx.services.audit.list({ limit, ...filter });
    // Actors are `user:usr_…`: show whose account that is.
    const emails = new Map((await ctx.services.oidc.users.list()).map((user) => [`user:${user.id}`, user.email]));
    await renderDashboardPage(ctx, 200, 'audit', {
      title: 'Audit log',
      section: 'audit',
      events: events.map((event) => ({ event, actorEmail: emails.get(event.actor), details: event.details ? JSON.stringify(event.details) : '' })),
      limit,
      sizes: AUDIT_PAGE_SIZES,
      target: filter?.targetId ?? '',
      rawTarget: typeof ctx.query.target === 'string' ? ctx.query.target.slice(0, 100) : '',
    });
  });
}
