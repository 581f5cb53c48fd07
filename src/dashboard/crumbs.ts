/**
 * Breadcrumbs of every page below a section, built here so they read the same everywhere:
 * section › agent › key › step. The layout renders them (views/dashboard/_crumbs.ejs); the last
 * one is the current page and is not a link.
 */
export interface Crumb {
  readonly text: string;
  readonly href?: string;
}

const enc = encodeURIComponent;

export function agentCrumbs(agent: { id: string; name: string }, ...rest: Crumb[]): Crumb[] {
  return [{ text: 'Agents', href: '/dashboard/agents' }, { text: agent.name, href: `/dashboard/agents/${enc(agent.id)}` }, ...rest];
}

export function keyCrumbs(agent: { id: string; name: string }, key: { id: string; prefix: string }, ...rest: Crumb[]): Crumb[] {
  return agentCrumbs(agent, { text: `${key.prefix}…`, href: `/dashboard/keys/${enc(key.id)}` }, ...rest);
}

export function clientCrumbs(client: { client_id: string; client_name: string }, ...rest: Crumb[]): Crumb[] {
  // A client has no page of its own: its name is not a link.
  return [{ text: 'OAuth clients', href: '/dashboard/clients' }, { text: client.client_name }, ...rest];
}
