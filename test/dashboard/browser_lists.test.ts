import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestApp } from '../support/app.js';
import { createAgentWithKey, updateKeyRow } from '../keys/helpers.js';
import { REDIRECT_URI, registerClient, startOidcApp } from '../oidc/support.js';
import { createUser } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ACTOR = { actor: 'cli' };
/** With KEYPORT_SCREENSHOTS=1 the pages are saved under docs/screenshots/ for docs/dashboard.md (as browser.test.ts does). */
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'screenshots');
const KEEP_SCREENSHOTS = process.env.KEYPORT_SCREENSHOTS === '1';

/**
 * Issue 19 part 5, the rest, in Chromium (as browser.test.ts): the key page's chart has a y-axis
 * with numbers and its label; the agents list shows key counts and last use; the keys list filters
 * through its GET form, also with JavaScript off, and a bad filter is a 400 page; the consent page
 * names the client, lists scopes in words and has two clear buttons, on a phone too.
 */
describe('dashboard in a real browser (Chromium): chart axis, agents list, keys search, consent', function () {
  this.timeout(120_000);
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let admin: { email: string; password: string };
  const cspViolations: string[] = [];

  const shoot = async (name: string, target: Page = page): Promise<void> => {
    if (!KEEP_SCREENSHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await target.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  const signIn = async (target: Page): Promise<void> => {
    await target.goto(`${app.url}/dashboard/login`);
    await target.getByLabel('Email').fill(admin.email);
    await target.getByLabel('Password').fill(admin.password);
    await target.getByRole('button', { name: 'Sign in' }).click();
    await target.waitForURL('**/dashboard/agents');
  };

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      expect(['true', '1'], `Chromium is required at ${CHROMIUM} for the dashboard browser test in CI`).not.to.include(process.env.CI);
      console.log(`    (skipped: no Chromium at ${CHROMIUM}; apt-get install -y chromium to run the browser tests — CI always runs them)`);
      this.skip();
    }
    // The consent page needs the issuer to be the address the browser uses (cookies, redirects).
    app = await startOidcApp();
    admin = await createUser(app);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
    });
    await signIn(page);
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('the key page\'s chart has a y-axis with numbered ticks, labelled "Requests per hour", left of the bars', async () => {
    const made = await createAgentWithKey(app, { name: 'chart key' }, { name: 'chart-agent' });
    const now = Date.now();
    for (let hour = 0; hour < 24; hour += 1) {
      for (let i = 0; i < 10 + hour; i += 1) app.services.dashboard.usage.recordRequest(made.key.id, now - hour * 3_600_000);
    }
    for (let i = 0; i < 5; i += 1) app.services.dashboard.usage.recordRejection(made.key.id, now);
    await page.goto(`${app.url}/dashboard/keys/${made.key.id}`);
    const chart = page.locator('svg.usage-chart');
    expect(await chart.isVisible()).to.equal(true);
    const title = chart.locator('text.axis-title');
    expect(await title.textContent()).to.equal('Requests per hour');
    const ticks = await chart.locator('text.tick').allTextContents();
    expect(ticks).to.deep.equal(['0', '10', '20', '30', '40']);
    // Rendered: the label reads bottom-to-top (taller than wide), left of the tick numbers, which are left of the first bar.
    const titleBox = (await title.boundingBox())!;
    expect(titleBox.height).to.be.greaterThan(titleBox.width);
    const tickBoxes = await Promise.all((await chart.locator('text.tick').all()).map(async (tick) => (await tick.boundingBox())!));
    const firstBar = (await chart.locator('rect.slot').first().boundingBox())!;
    expect(titleBox.x + titleBox.width).to.be.at.most(Math.min(...tickBoxes.map((box) => box.x)) + 1);
    for (const box of tickBoxes) expect(box.x + box.width).to.be.at.most(firstBar.x + 1);
    // Higher ticks are drawn higher up.
    expect(tickBoxes.map((box) => box.y)).to.deep.equal([...tickBoxes.map((box) => box.y)].sort((a, b) => b - a));
    expect(await page.locator('p.legend').textContent()).to.include('one bar per clock hour (UTC)');
    expect(await page.getByText('No requests with this key').count()).to.equal(0);
    await shoot('16-key-chart');
  });

  it('the agents list shows each agent\'s key count and last use; "none: add one" leads to the key form', async () => {
    const used = await createAgentWithKey(app, { name: 'used' }, { name: 'list-used' });
    const other = await app.services.keys.apiKeys.create(used.agent.id, { name: 'spare' }, ACTOR);
    await app.services.keys.apiKeys.revoke(other.key.id, ACTOR);
    await updateKeyRow(app, used.key.id, { lastUsedAt: new Date('2026-02-03T04:05:00.000Z') });
    const empty = await app.services.keys.agents.create({ name: 'list-empty' }, ACTOR);

    await page.goto(`${app.url}/dashboard/agents`);
    const row = page.locator('tbody tr', { has: page.getByRole('link', { name: 'list-used', exact: true }) });
    expect((await row.locator('td.keys-count').textContent())!.replace(/\s+/g, ' ').trim()).to.equal('1 active of 2');
    expect(await row.locator('td.last-used time').getAttribute('datetime')).to.equal('2026-02-03T04:05:00.000Z');
    expect(await row.locator('td.last-used').textContent()).to.include('2026-02-03 04:05 UTC');

    await shoot('17-agents-keys');
    const emptyRow = page.locator('tbody tr', { has: page.getByRole('link', { name: 'list-empty', exact: true }) });
    await emptyRow.getByRole('link', { name: 'No keys: create the first key for list-empty' }).click();
    await page.waitForURL(`**/dashboard/agents/${empty.id}/keys/new`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.include('New API key');
  });

  it('the keys list filters through its GET form (with and without JavaScript); a bad filter is a 400 page', async () => {
    const owner = await createAgentWithKey(app, { name: 'browser search live' }, { name: 'search-browser' });
    const testKey = await app.services.keys.apiKeys.create(owner.agent.id, { name: 'browser search test', env: 'test' }, ACTOR);
    const revoked = await app.services.keys.apiKeys.create(owner.agent.id, { name: 'browser search gone', env: 'test' }, ACTOR);
    await app.services.keys.apiKeys.revoke(revoked.key.id, ACTOR);

    await page.goto(`${app.url}/dashboard/agents`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
    await page.waitForURL('**/dashboard/keys');
    await page.getByLabel('Nickname, prefix or key ID').fill('browser search');
    await page.getByLabel('Environment').selectOption('test');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/dashboard\/keys\?q=browser\+search&status=&env=test&limit=50$/);
    const rows = page.locator('table.keys tbody tr');
    expect(await rows.count()).to.equal(2);
    await page.getByLabel('Status').selectOption('active');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/status=active/);
    expect(await rows.count()).to.equal(1);
    expect(await rows.first().textContent()).to.include(testKey.key.prefix).and.include('search-browser').and.include('active');
    // The choices stay chosen on the result page.
    expect(await page.getByLabel('Status').inputValue()).to.equal('active');
    expect(await page.getByLabel('Environment').inputValue()).to.equal('test');
    await shoot('18-keys-search');

    const noScript = await browser.newContext({ javaScriptEnabled: false, storageState: await context.storageState() });
    try {
      const plain = await noScript.newPage();
      await plain.goto(`${app.url}/dashboard/keys`);
      await plain.getByLabel('Nickname, prefix or key ID').fill('browser search');
      await plain.getByLabel('Status').selectOption('revoked');
      await plain.getByRole('button', { name: 'Search' }).click();
      await plain.waitForURL(/status=revoked/);
      const found = plain.locator('table.keys tbody tr');
      expect(await found.count()).to.equal(1);
      expect(await found.first().textContent()).to.include(revoked.key.prefix);
    } finally {
      await noScript.close();
    }

    await page.goto(`${app.url}/dashboard/keys?status=deleted`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.include('could not be completed');
    expect(await page.getByRole('alert').textContent()).to.include('The status filter must be active, revoked or expired');
    expect(await page.getByRole('navigation', { name: 'Main' }).isVisible()).to.equal(true);
  });

  it('the consent page names the client, lists the scopes in words, and has clear Allow / Deny buttons', async () => {
    const web = await registerClient(app, { name: 'Quarterly Reports', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    const user = await app.services.oidc.users.create({ email: 'consent-browser@example.com', password: 'correct horse battery' });
    const authorize = (state: string): string => {
      const query = new URLSearchParams({
        client_id: web.id, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid email read', state, nonce: 'n',
        prompt: 'consent', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      });
      return `${app.url}/oauth/authorize?${query.toString()}`;
    };
    const user2 = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const tab = await user2.newPage();
      // The client's callback is not a real site: answer it here and keep the URL.
      await tab.route(`${REDIRECT_URI}**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'callback' }));
      await tab.goto(authorize('deny-1'));
      await tab.getByLabel('Email').fill(user.email);
      await tab.getByLabel('Password').fill('correct horse battery');
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('heading', { level: 1, name: 'Allow access?' }).waitFor();
      expect(await tab.locator('.client-name').textContent()).to.equal('Quarterly Reports');
      expect(await tab.locator('.lead').textContent()).to.include('consent-browser@example.com');
      const scopes = (await tab.locator('ul.scopes li').allTextContents()).map((text) => text.replace(/\s+/g, ' ').trim());
      expect(scopes).to.deep.equal(['Confirm who you are (openid)', 'See your email address (email)', 'Read your data (read)']);
      const allow = tab.getByRole('button', { name: 'Allow access' });
      const deny = tab.getByRole('button', { name: 'Deny' });
      for (const button of [allow, deny]) {
        expect(await button.isVisible()).to.equal(true);
        expect((await button.boundingBox())!.height).to.be.at.least(44);
      }
      // Allow is the default (focused, filled); Deny is a plain outline.
      expect(await allow.evaluate((el) => (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement === el)).to.equal(true);
      const [allowBg, denyBg] = await Promise.all([allow, deny].map((button) => button.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor)));
      expect(allowBg).not.to.equal(denyBg);

      await shoot('19-consent', tab);
      await tab.setViewportSize({ width: 390, height: 844 });
      await shoot('20-phone-consent', tab);
      expect(await tab.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).to.be.at.most(0);
      await deny.click();
      await tab.waitForURL(`${REDIRECT_URI}**`);
      const denied = new URL(tab.url());
      expect(denied.searchParams.get('error')).to.equal('access_denied');
      expect(denied.searchParams.get('state')).to.equal('deny-1');

      // Again, allowing this time: the client gets a code.
      await tab.setViewportSize({ width: 1280, height: 800 });
      await tab.goto(authorize('allow-1'));
      await tab.getByRole('button', { name: 'Allow access' }).click();
      await tab.waitForURL(`${REDIRECT_URI}**`);
      const allowed = new URL(tab.url());
      expect(allowed.searchParams.get('code')).to.be.a('string').and.not.equal('');
      expect(allowed.searchParams.get('state')).to.equal('allow-1');
    } finally {
      await user2.close();
    }
    expect(cspViolations, cspViolations.join('\n')).to.deep.equal([]);
  });
});
