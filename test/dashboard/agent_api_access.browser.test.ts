import { existsSync } from 'node:fs';
import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';
import { createUser } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The "API access" section of an agent's page, in Chromium: create, show once, copy, use, rotate, revoke. */
describe('dashboard: agent access token (API access) in a real browser (Chromium)', function () {
  this.timeout(120_000);
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let agentId = '';
  let token = '';

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      expect(['true', '1'], `Chromium is required at ${CHROMIUM} for the dashboard browser test in CI`).not.to.include(process.env.CI);
      console.log(`    (skipped: no Chromium at ${CHROMIUM})`);
      this.skip();
    }
    app = await startTestApp({ env: { ALLOW_QUERY_API_KEY: 'true' } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
    const user = await createUser(app, { admin: true });
    agentId = (await app.services.keys.agents.create({ name: 'support-bot' }, { actor: 'cli' })).id;
    await page.goto(`${app.url}/dashboard`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL('**/dashboard/agents');
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('creates the token from the agent page and shows it once, with a copy button', async () => {
    await page.goto(`${app.url}/dashboard/agents/${agentId}`);
    const section = page.locator('#api-access');
    expect(await section.getByRole('heading', { level: 2 }).textContent()).to.equal('API access');
    expect(await section.textContent()).to.include('has no agent access token');
    await section.getByRole('button', { name: 'Create agent access token' }).click();
    await page.getByText('It will not be shown again').waitFor();
    token = (await page.locator('#api-key').textContent())!.trim();
    expect(token).to.match(/^agt_[A-Za-z0-9]{32}$/);
    expect(page.url()).not.to.include(token);
    await page.getByRole('button', { name: 'Copy key' }).click();
    await page.getByText(/Copied to the clipboard|Selected: press/).waitFor();
    const copied = await page.evaluate<string>("navigator.clipboard.readText().catch(() => '')");
    if (copied) expect(copied).to.equal(token);
    expect(JSON.stringify(await context.cookies())).not.to.include(token);
    // Reloading does not show it again.
    await page.reload();
    expect(await page.content()).not.to.include(token);
  });

  it("the token works as the seed document says: Bearer header and ?access_token_query=", async () => {
    const bearer = await app.http().post('/auth/login').set('Authorization', `Bearer ${token}`).send({});
    expect(bearer.status, bearer.text).to.equal(200);
    const query = await app.http().get(`/auth/test?access_token_query=${token}`);
    expect(query.status, query.text).to.equal(200);
    expect(query.body.key.prefix).to.equal(token.slice(0, 8));
  });

  it('shows the token by prefix on the agent page, rotates it and revokes it', async () => {
    await page.goto(`${app.url}/dashboard/agents/${agentId}`);
    const section = page.locator('#api-access');
    expect(await section.textContent()).to.include(`${token.slice(0, 8)}…`).and.not.include(token);
    await section.getByRole('link', { name: 'Rotate the agent access token' }).click();
    await page.getByLabel('1 hour').check();
    await page.getByRole('button', { name: 'Rotate key' }).click();
    await page.getByText('It will not be shown again').waitFor();
    const next = (await page.locator('#api-key').textContent())!.trim();
    expect(next).to.match(/^agt_[A-Za-z0-9]{32}$/).and.not.equal(token);
    // The old token works through its grace period.
    expect((await app.http().get('/auth/test').set('Authorization', `Bearer ${token}`)).status).to.equal(200);

    await page.goto(`${app.url}/dashboard/agents/${agentId}`);
    expect(await section.textContent()).to.include(`${next.slice(0, 8)}…`);
    await section.getByRole('link', { name: 'Revoke the agent access token' }).click();
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.waitForURL(/done=key_revoked/);
    const refused = await app.http().get('/auth/test').set('Authorization', `Bearer ${next}`);
    expect(refused.status).to.equal(401);
    expect(refused.body.error.code).to.equal('revoked_api_key');
    expect(await page.locator('#api-access').textContent()).to.include('has no agent access token');
  });
});
