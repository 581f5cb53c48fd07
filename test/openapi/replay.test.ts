import { expect } from 'chai';
import type supertest from 'supertest';
import { adminToken } from '../admin/support.js';
import { startOidcApp } from '../oidc/support.js';
import type { TestApp } from '../support/app.js';
import { deref, HTTP_METHODS, loadDocument, schemaValidator, type Operation, type Response as DocumentedResponse } from './support.js';

/**
 * Replays docs/openapi.json against a running Keyport: every request example of every operation
 * is sent (with live ids and credentials in place of the example ones) and must get the status the
 * example names (`x-status`), with a body that matches the schema documented for that status and
 * the headers documented for it. Operations without a request body are called once, with their
 * credential and without it.
 */

/** The example values in the document, replaced by live ones before a request is sent. */
const EXAMPLE = {
  apiKey: 'ak_live_3fTz8QmN1vR7yLpK0sWdE5hJ2cXa9BuG',
  agentId: 'agent_6fJq2dN8pXr4Lk1MzT0v',
  keyId: 'key_9sWm3Qb7Tn2Vx5Yc8ZaE',
  clientId: 'cli_4hRk7Np2Wq9Ls3Dv6Gx1',
  refreshToken: 'rt_Nf8Kq2Vb5Xm9Tz1Lc4Wd7Ys0Hj3Gp6Re8Ua2Qk',
} as const;

interface Fixture {
  readonly values: Record<keyof typeof EXAMPLE, string>;
}

describe('OpenAPI document: examples replayed against the running server', function () {
  this.timeout(120_000);
  const document = loadDocument();
  const validate = schemaValidator(document);
  let app: TestApp;
  let token: string;

  before(async () => {
    app = await startOidcApp();
    ({ token } = await adminToken(app));
  });
  after(async () => { await app?.close(); });

  /** A fresh agent with a key (its default session opened) and a fresh client: one per request, so revocations and rotations do not collide. */
  async function fixture(template = ''): Promise<Fixture> {
    const created = await app.services.keys.agents.createWithKey({ name: 'replay', key: { scopes: 'read,write', accessType: 'transactional' } }, { actor: 'test' });
    // Rotating or revoking an agent access token needs one (creating one needs its absence).
    if (template.startsWith('/admin/agents/{id}/token/') || template === '/admin/agents/{id}/token#delete') await app.services.keys.agentTokens.create(created.agent.id, {}, { actor: 'test' });
    const login = await app.http().post('/auth/login').send({ api_key: created.apiKey }).expect(200);
    const { client } = await app.services.oidc.clients.create({ name: 'replay', grantTypes: ['client_credentials'], scopes: ['read'] });
    return { values: { apiKey: created.apiKey, agentId: created.agent.id, keyId: created.key.id, clientId: client.id, refreshToken: login.body.refresh_token as string } };
  }

  function live<T>(value: T, values: Fixture['values']): T {
    let text = JSON.stringify(value);
    for (const [name, example] of Object.entries(EXAMPLE)) text = text.replaceAll(example, values[name as keyof typeof EXAMPLE]);
    return JSON.parse(text) as T;
  }

  function pathFor(template: string, values: Fixture['values']): string {
    const id = template.startsWith('/admin/agents') ? values.agentId : template.startsWith('/admin/keys') ? values.keyId : values.clientId;
    return template.replace('{id}', encodeURIComponent(id)).replace('{session_id}', 'default');
  }

  function request(method: string, path: string): supertest.Test {
    return (app.http() as unknown as Record<string, (url: string) => supertest.Test>)[method]!(path);
  }

  function withCredential(test: supertest.Test, template: string, operation: Operation, values: Fixture['values']): supertest.Test {
    const schemes = (operation.security ?? []).flatMap((requirement) => Object.keys(requirement));
    if (template.startsWith('/admin/')) return test.set('Authorization', `Bearer ${token}`);
    if (schemes.includes('apiKeyHeader')) return test.set('X-API-Key', values.apiKey);
    return test;
  }

  function expectDocumented(where: string, operation: Operation, res: supertest.Response): void {
    const documented = operation.responses[String(res.status)];
    expect(documented, `${where}: status ${res.status} is not documented (${res.text.slice(0, 200)})`).not.to.equal(undefined);
    const response = deref<DocumentedResponse>(document, documented!);
    const schema = response.content?.['application/json']?.schema;
    if (schema) expect(validate(schema, res.body), `${where}: ${res.status} body ${JSON.stringify(res.body).slice(0, 300)}`).to.equal(undefined);
    if (res.status < 300) {
      for (const name of Object.keys(response.headers ?? {})) {
        if (name === 'Cache-Control' || name === 'ETag') continue;
        expect(res.headers, `${where}: header ${name}`).to.have.property(name.toLowerCase());
      }
    }
  }

  let replayed = 0;
  for (const [template, item] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method] as Operation | undefined;
      if (!operation) continue;
      const examples = operation.requestBody?.content['application/json']?.examples;
      it(`${method.toUpperCase()} ${template}`, async () => {
        if (examples) {
          for (const [name, example] of Object.entries(examples)) {
            const { values } = await fixture(method === 'delete' ? `${template}#delete` : template);
            const res = await withCredential(request(method, pathFor(template, values)), template, operation, values).send(live(example.value as object, values));
            expect(res.status, `${name}: ${res.text.slice(0, 300)}`).to.equal(example['x-status']);
            expectDocumented(`${method} ${template} ${name}`, operation, res);
            replayed += 1;
          }
        } else {
          const { values } = await fixture(method === 'delete' ? `${template}#delete` : template);
          const res = await withCredential(request(method, pathFor(template, values)), template, operation, values);
          const success = Object.keys(operation.responses).filter((status) => status.startsWith('2')).sort()[0];
          expect(String(res.status), res.text.slice(0, 300)).to.equal(success);
          expectDocumented(`${method} ${template}`, operation, res);
          replayed += 1;
        }
        // Without its credential: the documented 401, in the documented error body.
        const required = (operation.security ?? []).length > 0 && !(operation.security ?? []).some((requirement) => Object.keys(requirement).length === 0);
        if (required) {
          const { values } = await fixture();
          const res = await request(method, pathFor(template, values));
          expect(res.status, res.text).to.equal(401);
          expectDocumented(`${method} ${template} without credential`, operation, res);
        }
      });
    }
  }

  it('replayed every operation', () => {
    expect(replayed).to.be.greaterThan(30);
  });
});
