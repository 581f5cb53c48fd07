import { expect } from 'chai';
import type supertest from 'supertest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey, updateKeyRow } from '../keys/helpers.js';
import { createUser, csrfOf, decodeEntities, expectPage, signIn } from './helpers.js';

const ACTOR = { actor: 'cli' };

/** The <tr> of the agents or keys table that links to this id. */
function rowOf(html: string, id: string): string {
  const row = html.split('<tr>').find((part) => part.includes(`/${id}"`));
  expect(row, `a table row for ${id}`).to.not.equal(undefined);
  return decodeEntities(row!.split('</tr>')[0]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' '));
}

/** Key ids listed on a keys page, in order. */
function listedKeys(html: string): string[] {
  const table = html.split('<table class="stack keys">')[1]?.split('</table>')[0] ?? '';
  return [...table.matchAll(/href="\/dashboard\/keys\/(key_[A-Za-z0-9]+)"/g)].map((match) => match[1]!);
}

/**
 * Counts the SQL statements that touch `api_keys` while `run` runs, through the data source's
 * logger (every driver reports every statement to it, whatever the logging settings).
 */
async function keyQueriesDuring(app: TestApp, run: () => Promise<unknown>): Promise<string[]> {
  const { logger } = app.services.database.dataSource;
  const original = logger.logQuery;
  const seen: string[] = [];
  logger.logQuery = function (query, parameters, runner) {
    if (/\bapi_keys\b/.test(query)) seen.push(query);
    return original.call(this, query, parameters, runner);
  };
  try {
    await run();
  } finally {
    logger.logQuery = original;
  }
  return seen;
}

/**
 * Issue 19 part 5, the rest, over HTTP: key counts and last use on the agents list (one grouped
 * query, SQLite and MariaDB alike), and /dashboard/keys: server-side search and filters, bounded
 * pages, and a 400 page for filter values the form cannot produce.
 */
describe('dashboard: the agents list counts keys; the keys list searches and filters', () => {
  let app: TestApp;
  let browser: supertest.Agent;

  before(async () => {
    app = await startTestApp();
    browser = await signIn(app, await createUser(app));
  });
  after(async () => { await app.close(); });

  describe('agents list', () => {
    it('shows each agent\'s active and total keys and its keys\' latest use', async () => {
      const { keys } = app.services;
      const busy = await createAgentWithKey(app, { name: 'first' }, { name: 'counts-busy' });
      const second = await keys.apiKeys.create(busy.agent.id, { name: 'second' }, ACTOR);
      const third = await keys.apiKeys.create(busy.agent.id, { name: 'third' }, ACTOR);
      await keys.apiKeys.revoke(second.key.id, ACTOR);
      await updateKeyRow(app, third.key.id, { expiresAt: new Date(Date.now() - 60_000) });
      await updateKeyRow(app, busy.key.id, { lastUsedAt: new Date('2026-01-02T03:04:05.000Z') });
      await updateKeyRow(app, second.key.id, { lastUsedAt: new Date('2025-12-30T10:00:00.000Z') });
      const empty = await keys.agents.create({ name: 'counts-empty' }, ACTOR);
      const gone = await createAgentWithKey(app, {}, { name: 'counts-revoked' });
      await keys.agents.revoke(gone.agent.id, ACTOR);

      const page = await browser.get('/dashboard/agents');
      expectPage(page, 200);
      expect(page.text).to.include('<th scope="col">Keys</th>').and.include('<th scope="col">Last used</th>');
      expect(rowOf(page.text, busy.agent.id)).to.include('1 active of 3').and.include('2026-01-02 03:04 UTC');
      // No key: a next step, straight to the new-key form.
      expect(rowOf(page.text, empty.id)).to.include('none: add one').and.include('never');
      expect(page.text).to.include(`href="/dashboard/agents/${empty.id}/keys/new"`);
      expect(rowOf(page.text, gone.agent.id)).to.include('0 active of 1').and.include('never');
    });

    it('reads the counts of the whole page with one grouped query, however many agents it lists', async () => {
      for (let i = 0; i < 3; i += 1) await createAgentWithKey(app, {}, { name: `counts-many-${i}` });
      const few = await keyQueriesDuring(app, () => browser.get('/dashboard/agents').expect(200));
      for (let i = 0; i < 12; i += 1) await createAgentWithKey(app, {}, { name: `counts-more-${i}` });
      const many = await keyQueriesDuring(app, () => browser.get('/dashboard/agents').expect(200));
      expect(few, few.join('\n')).to.have.length(1);
      expect(many, many.join('\n')).to.have.length(1);
      expect(many[0]).to.match(/GROUP BY/i);
    });

    it('a search with no match says so and offers the way back', async () => {
      const page = await browser.get('/dashboard/agents?q=no-such-agent-anywhere');
      expectPage(page, 200);
      expect(page.text).to.include('No agent\'s name contains').and.include('href="/dashboard/agents">Show all agents</a>');
    });
  });

  describe('keys list', () => {
    let agentId: string;
    const ids: Record<string, string> = {};
    let prefixOfLive = '';

    before(async () => {
      const { keys } = app.services;
      const made = await createAgentWithKey(app, { name: 'search nightly export' }, { name: 'search-owner' });
      agentId = made.agent.id;
      ids.nightly = made.key.id;
      prefixOfLive = made.key.prefix;
      ids.stripe = (await keys.apiKeys.create(agentId, { name: 'search stripe hooks', env: 'test' }, ACTOR)).key.id;
      ids.revoked = (await keys.apiKeys.create(agentId, { name: 'search old revoked' }, ACTOR)).key.id;
      await keys.apiKeys.revoke(ids.revoked, ACTOR);
      ids.expired = (await keys.apiKeys.create(agentId, { name: 'search expired one', env: 'test' }, ACTOR)).key.id;
      await updateKeyRow(app, ids.expired, { expiresAt: new Date(Date.now() - 60_000) });
      // Rotated with its grace over: revoked by keyStatus(), though its stored status is active.
      ids.rotated = (await keys.apiKeys.create(agentId, { name: 'search rotated' }, ACTOR)).key.id;
      const rotation = await keys.apiKeys.rotate(ids.rotated, { grace: '1h' }, ACTOR);
      ids.successor = rotation.key.id;
      await updateKeyRow(app, ids.rotated, { graceUntil: new Date(Date.now() - 60_000) });
      ids.percent = (await keys.apiKeys.create(agentId, { name: 'search 100%_done' }, ACTOR)).key.id;
      // MariaDB keeps whole seconds: keys made in the same second tie, so "newest first" needs the first key older.
      await updateKeyRow(app, ids.nightly, { createdAt: new Date(Date.now() - 60_000) });
    });

    it('lists every agent\'s keys, newest first, with agent, env, effective status and dates; nav entry "API keys"', async () => {
      const page = await browser.get('/dashboard/keys');
      expectPage(page, 200);
      expect(page.text).to.include('<a href="/dashboard/keys" aria-current="page">API keys</a>');
      expect(page.text).to.include('<form method="get" action="/dashboard/keys" class="search" role="search">');
      const listed = listedKeys(page.text);
      expect(listed.indexOf(ids.percent!)).to.be.lessThan(listed.indexOf(ids.nightly!));
      expect(rowOf(page.text, ids.rotated!)).to.include('revoked').and.include('search-owner');
      expect(rowOf(page.text, ids.expired!)).to.include('expired').and.include('test');
    });

    it('searches nickname, prefix or key id, case-insensitively, with % and _ taken literally', async () => {
      const inOwner = (list: string[]) => list.filter((id) => Object.values(ids).includes(id));
      expect(inOwner(listedKeys((await browser.get('/dashboard/keys?q=NIGHTLY').expect(200)).text))).to.deep.equal([ids.nightly]);
      expect(listedKeys((await browser.get(`/dashboard/keys?q=${encodeURIComponent(prefixOfLive)}`).expect(200)).text)).to.include(ids.nightly);
      expect(listedKeys((await browser.get(`/dashboard/keys?q=${ids.stripe}`).expect(200)).text)).to.deep.equal([ids.stripe]);
      expect(listedKeys((await browser.get(`/dashboard/keys?q=${encodeURIComponent('%')}`).expect(200)).text)).to.deep.equal([ids.percent]);
      expect(listedKeys((await browser.get(`/dashboard/keys?q=${encodeURIComponent('0%_d')}`).expect(200)).text)).to.deep.equal([ids.percent]);
      // Typed text is a value, never SQL.
      const odd = await browser.get(`/dashboard/keys?q=${encodeURIComponent("' OR 1=1 --")}`);
      expectPage(odd, 200);
      expect(listedKeys(odd.text)).to.deep.equal([]);
      expect(odd.text).to.include('value="&#39; OR 1=1 --"');
    });

    it('filters by effective status and by environment, alone or together with the search', async () => {
      const list = async (query: string): Promise<string[]> => {
        const page = await browser.get(`/dashboard/keys?q=search&${query}`);
        expectPage(page, 200);
        return listedKeys(page.text).sort();
      };
      expect(await list('status=revoked')).to.deep.equal([ids.revoked, ids.rotated].sort());
      expect(await list('status=expired')).to.deep.equal([ids.expired]);
      expect(await list('status=active')).to.deep.equal([ids.nightly, ids.stripe, ids.successor, ids.percent].sort());
      expect(await list('env=test')).to.deep.equal([ids.stripe, ids.expired].sort());
      expect(await list('env=test&status=active')).to.deep.equal([ids.stripe]);
      expect(await list('status=&env=')).to.have.length(7);
      // The form keeps what was chosen.
      const page = await browser.get('/dashboard/keys?q=search&status=expired&env=test');
      expect(page.text).to.include('<option value="expired" selected>').and.include('<option value="test" selected>').and.include('value="search"');
    });

    it('pages through many keys a bounded page at a time, each key once', async () => {
      const { keys } = app.services;
      const pager = await keys.agents.create({ name: 'search-pager' }, ACTOR);
      const made: string[] = [];
      for (let i = 0; i < 27; i += 1) made.push((await keys.apiKeys.create(pager.id, { name: `pager key ${i}` }, ACTOR)).key.id);
      const first = await browser.get('/dashboard/keys?q=pager+key&limit=25');
      expectPage(first, 200);
      const firstIds = listedKeys(first.text);
      expect(firstIds).to.have.length(25);
      const next = /<a class="button secondary" href="([^"]+)" rel="next">Older keys<\/a>/.exec(first.text);
      expect(next, 'a link to the next page').to.not.equal(null);
      const nextUrl = decodeEntities(next![1]!);
      expect(nextUrl).to.include('q=pager+key').and.include('limit=25').and.include('after=');
      const second = await browser.get(nextUrl);
      expectPage(second, 200);
      const secondIds = listedKeys(second.text);
      expect(secondIds).to.have.length(2);
      expect(second.text).not.to.include('rel="next"');
      expect(second.text).to.include('Newest keys');
      expect([...firstIds, ...secondIds].sort()).to.deep.equal([...made].sort());
    });

    it('answers filter values the form cannot produce with a 400 page in the dashboard\'s style, never a 500', async () => {
      const cases: Array<[string, string]> = [
        ['status=deleted', 'The status filter must be active, revoked or expired'],
        ['env=prod', 'The environment filter must be live or test'],
        ['limit=1000', 'The number of rows must be 25, 50, 100'],
        ['limit=abc', 'The number of rows must be'],
        ['after=2026-01-01~key_x', 'This page link is not valid'],
        ['after=9999-99-99T00:00:00.000Z~key_abc', 'This page link is not valid'],
        [`q=${'x'.repeat(101)}`, 'The search text is at most 100 characters'],
        ['status=active&status=revoked', 'The filter "status" was given more than once'],
        ['q=a&q=b', 'The filter "q" was given more than once'],
      ];
      for (const [query, message] of cases) {
        const res = await browser.get(`/dashboard/keys?${query}`);
        expectPage(res, 400);
        const text = decodeEntities(res.text);
        expect(text, query).to.include(message).and.include('The request could not be completed').and.include('invalid_request');
        // The dashboard's page: navigation and sign-out, not JSON, not the bare error page.
        expect(res.text, query).to.include('<nav aria-label="Main">');
      }
    });

    it('is for signed-in administrators only', async () => {
      const res = await app.http().get('/dashboard/keys?status=active');
      expect(res.status).to.equal(303);
      expect(res.headers.location).to.equal(`/dashboard/login?next=${encodeURIComponent('/dashboard/keys?status=active')}`);
    });

    it('a filter that matches nothing says so and links back to all keys', async () => {
      const page = await browser.get('/dashboard/keys?q=no-such-key-anywhere&status=expired');
      expectPage(page, 200);
      expect(page.text).to.include('No key matches these filters').and.include('<a class="button secondary" href="/dashboard/keys">Show all keys</a>');
    });
  });

  it('with no keys at all, the keys list points to the agents page (the next step)', async () => {
    const fresh = await startTestApp();
    try {
      const signedIn = await signIn(fresh, await createUser(fresh));
      const page = await signedIn.get('/dashboard/keys');
      expectPage(page, 200);
      expect(page.text).to.include('No API keys yet').and.include('<a class="button primary" href="/dashboard/agents">Go to agents</a>');
      await csrfOf(signedIn);
    } finally {
      await fresh.close();
    }
  });
});
