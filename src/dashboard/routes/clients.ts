import type { KeyportContext, KeyportRouter } from '../../http/context.js';
import { GRANT_TYPES, type GrantName } from '../../clients/grant_types.js';
import { toClientView, type ClientView } from '../../clients/client_service.js';
import { KeyportError, NotFound } from '../../lib/errors.js';
import type { OidcServices } from '../../oidc/services.js';
import { clientCrumbs } from '../crumbs.js';
import { asList, ConfirmForm, NewClientForm } from '../forms.js';
import type { FieldErrors } from '../key_form.js';
import type { DashboardServices } from '../index.js';
import { renderDashboardPage } from '../views.js';
import { actorOf, checkCsrf, dashboardState, formOf, param, parseForm, requireAdmin, seeOther } from './steps.js';

/** What the OAuth client pages reach: the client service and the one-time reveals (the new secret). */
export interface DashboardClientRouteServices {
  readonly oidc: Pick<OidcServices, 'clients'>;
  readonly dashboard: Pick<DashboardServices, 'reveals'>;
}

type ClientField = 'name' | 'grant_types' | 'redirect_uris' | 'scopes' | 'public';

interface ClientFormValues {
  name: string;
  grant_types: string[];
  redirect_uris: string;
  scopes: string;
  public: boolean;
}

const EMPTY_CLIENT_FORM: ClientFormValues = { name: '', grant_types: ['client_credentials'], redirect_uris: '', scopes: '', public: false };

const GRANT_HELP: Record<GrantName, string> = {
  authorization_code: 'Users sign in in a browser (needs a redirect URI)',
  client_credentials: 'A service acts as itself with its secret',
  refresh_token: 'Tokens can be refreshed without signing in again',
  token_exchange: 'Trades an API key or a token for a narrower token (RFC 8693)',
};

const NOTICES: Record<string, string> = {
  client_deleted: 'The client was deleted. Its tokens stop working at once.',
};

/**
 * The client service validates and names the problem in one sentence; this says which field it
 * is about, so the message can sit next to it. Its CLI flag names are spelled as the form's labels.
 */
function clientFieldOf(message: string): ClientField | undefined {
  if (/client name/i.test(message)) return 'name';
  if (/grant type/i.test(message) && !/redirect/i.test(message)) return 'grant_types';
  if (/public client/i.test(message)) return 'public';
  if (/redirect/i.test(message)) return 'redirect_uris';
  if (/scope/i.test(message)) return 'scopes';
  return undefined;
}

function formMessage(message: string): string {
  return message.replace(/--redirect-uri/g, 'redirect URI').replace(/--public/g, '"public client"').replace(/--jwks(-uri)?/g, 'keys');
}

async function renderClients(ctx: KeyportContext<DashboardClientRouteServices>, status: number, values: ClientFormValues, errors: FieldErrors<ClientField>, formError?: string): Promise<void> {
  const clients = (await ctx.services.oidc.clients.list()).map(toClientView);
  const notice = typeof ctx.query.done === 'string' ? NOTICES[ctx.query.done] : undefined;
  await renderDashboardPage(ctx, status, 'clients', {
    title: 'OAuth clients',
    section: 'clients',
    clients,
    grantNames: Object.fromEntries(Object.entries(GRANT_TYPES).map(([name, value]) => [value, name])),
    grants: (Object.keys(GRANT_TYPES) as GrantName[]).map((name) => ({ name, help: GRANT_HELP[name] })),
    values,
    errors,
    formError,
    notice,
  });
}

async function clientOr404(ctx: KeyportContext<DashboardClientRouteServices>): Promise<ClientView> {
  const id = param(ctx, 'clientId');
  const client = await ctx.services.oidc.clients.get(id);
  if (!client) throw new NotFound(`No client with id ${JSON.stringify(id.slice(0, 64))}.`);
  return toClientView(client);
}

/** OAuth clients: list, create (secret shown once), delete with confirmation. */
export function clientRoutes<S extends DashboardClientRouteServices>(router: KeyportRouter<S>): void {
  router.get('/clients', requireAdmin, async function listClients(ctx) {
    await renderClients(ctx, 200, EMPTY_CLIENT_FORM, {});
  });

  router.post('/clients', requireAdmin, checkCsrf, parseForm(NewClientForm), async function createClient(ctx) {
    const form = formOf<NewClientForm>(ctx);
    const values: ClientFormValues = {
      name: form.name ?? '',
      grant_types: asList(form.grant_types),
      redirect_uris: form.redirect_uris ?? '',
      scopes: form.scopes ?? '',
      public: form.public === '1',
    };
    const scopes = values.scopes.split(/[\s,]+/).filter((scope) => scope !== '');
    try {
      const { client, clientSecret } = await ctx.services.oidc.clients.create({
        name: values.name,
        grantTypes: values.grant_types,
        redirectUris: values.redirect_uris.split(/\s+/).filter((uri) => uri !== ''),
        scopes: scopes.length > 0 ? scopes : undefined,
        public: values.public,
      }, actorOf(ctx));
      // The database keeps a keyed hash; the secret waits for its one showing (POST/redirect/GET).
      if (clientSecret) ctx.services.dashboard.reveals.put(dashboardState(ctx).session!.id, client.id, clientSecret);
      return seeOther(ctx, `/dashboard/clients/${encodeURIComponent(client.id)}/created`);
    } catch (err) {
      if (!(err instanceof KeyportError && err.code === 'invalid_request')) throw err;
      const field = clientFieldOf(err.message);
      const message = formMessage(err.message);
      return renderClients(ctx, 400, values, field ? { [field]: message } : {}, field ? undefined : message);
    }
  });

  router.get('/clients/:clientId/created', requireAdmin, async function showCreatedClient(ctx) {
    const client = await clientOr404(ctx);
    const isPublic = client.token_endpoint_auth_method === 'none';
    const clientSecret = isPublic ? undefined : ctx.services.dashboard.reveals.take(dashboardState(ctx).session!.id, client.client_id);
    if (isPublic || clientSecret) return renderDashboardPage(ctx, 200, 'client_secret', { title: 'Your new OAuth client', section: 'clients', crumbs: clientCrumbs(client), client, clientSecret });
    await renderDashboardPage(ctx, 200, 'secret_gone', {
      title: 'This client secret was already shown',
      section: 'clients',
      crumbs: clientCrumbs(client),
      what: `The secret of OAuth client ${client.client_name} (${client.client_id})`,
      why: 'Keyport shows a client secret once, right after the client is made, and keeps only a keyed hash of it. Reloading that page does not show it again or make another client.',
      next: { href: `/dashboard/clients/${encodeURIComponent(client.client_id)}/delete`, text: 'Delete this client', note: 'If you did not copy the secret, delete the client and create a new one.' },
      back: { href: '/dashboard/clients', text: 'Back to OAuth clients' },
    });
  });

  router.get('/clients/:clientId/delete', requireAdmin, async function confirmClientDeletion(ctx) {
    const client = await clientOr404(ctx);
    await renderDashboardPage(ctx, 200, 'confirm', {
      title: `Delete client ${client.client_name}?`,
      section: 'clients',
      crumbs: clientCrumbs(client, { text: 'Delete' }),
      action: `/dashboard/clients/${encodeURIComponent(client.client_id)}/delete`,
      cancel: '/dashboard/clients',
      button: 'Delete client',
      lines: [
        `The OAuth client ${client.client_name} (${client.client_id}) is deleted and its tokens stop working at once.`,
        'Applications using it can no longer sign users in or get tokens. This cannot be undone.',
      ],
    });
  });

  router.post('/clients/:clientId/delete', requireAdmin, checkCsrf, parseForm(ConfirmForm), async function deleteClient(ctx) {
    const client = await clientOr404(ctx);
    if (formOf<ConfirmForm>(ctx).confirm !== 'yes') return seeOther(ctx, `/dashboard/clients/${encodeURIComponent(client.client_id)}/delete`);
    await ctx.services.oidc.clients.delete(client.client_id, actorOf(ctx));
    return seeOther(ctx, '/dashboard/clients?done=client_deleted');
  });
}
