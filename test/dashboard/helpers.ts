import { expect } from 'chai';
import type { Response } from 'supertest';
import type supertest from 'supertest';
import type { TestApp } from '../support/app.js';

export const ADMIN_PASSWORD = 'correct horse battery';

let counter = 0;

/** A login user made through the same service as `keyport user:create`. */
export async function createUser(app: TestApp, options: { admin?: boolean; email?: string } = {}): Promise<{ id: string; email: string; password: string }> {
  counter += 1;
  const email = options.email ?? `${options.admin === false ? 'user' : 'admin'}-${counter}-${Date.now()}@example.com`;
  const user = await app.services.oidc.users.create({ email, password: ADMIN_PASSWORD, isAdmin: options.admin ?? true });
  return { id: user.id, email: user.email, password: ADMIN_PASSWORD };
}

/** The value of a hidden input, e.g. the CSRF token of the first form with one. */
export function hiddenValue(html: string, name: string): string {
  const match = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(html);
  expect(match, `hidden input ${name} in page`).to.not.equal(null);
  return decodeEntities(match![1]!);
}

export function decodeEntities(text: string): string {
  return text.replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The CSRF token of the signed-in session, as every dashboard form carries it. */
export async function csrfOf(agent: supertest.Agent, path = '/dashboard/agents'): Promise<string> {
  const res = await agent.get(path).expect(200);
  return hiddenValue(res.text, 'csrf');
}

/** Signs in through the sign-in form (nonce cookie + token, then the POST); returns the agent with its cookies. */
export async function signIn(app: TestApp, user: { email: string; password: string }, agent: supertest.Agent = app.http()): Promise<supertest.Agent> {
  const form = await agent.get('/dashboard/login').expect(200);
  const res = await agent.post('/dashboard/login').type('form').send({ csrf: hiddenValue(form.text, 'csrf'), email: user.email, password: user.password });
  expect(res.status, res.text.slice(0, 500)).to.equal(303);
  expect(res.headers.location).to.equal('/dashboard/agents');
  return agent;
}

/** The text of the field error shown next to the input with this id. */
export function fieldError(html: string, id: string): string | undefined {
  const match = new RegExp(`<p class="field-error" id="${id}-error">([^<]*)</p>`).exec(html);
  return match ? decodeEntities(match[1]!) : undefined;
}

/** A dashboard page (not JSON) with this status. */
export function expectPage(res: Response, status: number): void {
  expect(res.status, res.text.slice(0, 300)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^text\/html/);
  expect(res.headers['cache-control']).to.equal('no-store');
}

/** Audit rows for a target, newest first. */
export async function auditFor(app: TestApp, targetId: string): Promise<Array<{ action: string; actor: string; ip: string | null; details: Record<string, unknown> | null }>> {
  const events = await app.services.audit.list({ limit: 1000 });
  return events.filter((event) => event.targetId === targetId);
}

export type FormFields = Record<string, string | string[] | undefined>;

/** A form body as a browser encodes it: repeated names for checkboxes, nothing for undefined. */
export function encodeForm(fields: FormFields): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, item);
  }
  return params.toString();
}

/** POSTs a form the way the dashboard's pages do. */
export function postForm(agent: supertest.Agent, path: string, fields: FormFields): supertest.Test {
  return agent.post(path).type('form').send(encodeForm(fields));
}

/** Creates an agent through the dashboard's form and returns its id. */
export async function createAgentInPage(agent: supertest.Agent, csrf: string, name: string, contact = ''): Promise<string> {
  const res = await postForm(agent, '/dashboard/agents', { csrf, name, contact_email: contact });
  expect(res.status, res.text.slice(0, 300)).to.equal(303);
  const match = /^\/dashboard\/agents\/(agent_[A-Za-z0-9]+)$/.exec(res.headers.location ?? '');
  expect(match, res.headers.location).to.not.equal(null);
  return match![1]!;
}

/** The full key on a show-once page. */
export function shownKey(html: string): string {
  const match = /<code class="secret" id="api-key">(ak_(?:live|test)_[A-Za-z0-9]{32})<\/code>/.exec(html);
  expect(match, 'the show-once key on the page').to.not.equal(null);
  return match![1]!;
}

/** A good new-key form. */
export function keyForm(csrf: string, overrides: FormFields = {}): FormFields {
  return {
    csrf, name: 'nightly export', contact_email: '', access_type: 'integrations', scopes: ['read'], env: 'live',
    expires_in: '', ip_allow_list: '', rate_limit_per_minute: '', rate_limit_per_hour: '', rate_limit_burst: '',
    ...overrides,
  };
}

/**
 * A form POST that creates a secret answers 303 to the page that shows it once (POST/redirect/GET);
 * this checks the redirect carries nothing secret and no cookie, and returns that page.
 */
export async function followReveal(agent: supertest.Agent, post: supertest.Test): Promise<Response> {
  const res = await post;
  expect(res.status, res.text).to.equal(303);
  expect(res.headers.location).to.match(/^\/dashboard\/(?:keys\/key_|clients\/cli_)[A-Za-z0-9]+\/created$/);
  expect(res.headers['set-cookie'] ?? []).to.have.length(0);
  return agent.get(res.headers.location as string);
}
