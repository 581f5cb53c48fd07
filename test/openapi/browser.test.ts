import { existsSync } from 'node:fs';
import { expect } from 'chai';
import { chromium, type Browser } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * `/docs` in a real browser: Redoc renders the document under the page CSP with every request
 * outside this instance refused (no CDN, no fonts), and without a script-src violation.
 */
describe('documentation endpoints: /docs in a real browser (Chromium)', function () {
  this.timeout(120_000);
  let app: TestApp;
  let browser: Browser;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      expect(['true', '1'], `Chromium is required at ${CHROMIUM} for the browser tests in CI`).not.to.include(process.env.CI);
      console.log(`    (skipped: no Chromium at ${CHROMIUM}; apt-get install -y chromium to run the browser tests — CI always runs them)`);
      this.skip();
    }
    app = await startTestApp();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('renders the reference from this instance alone, within the CSP', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const origin = new URL(app.url).origin;
    const elsewhere: string[] = [];
    const requested: string[] = [];
    // The network outside this instance is cut: anything asked of it is recorded and refused.
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) {
        requested.push(new URL(url).pathname);
        await route.continue();
      } else {
        elsewhere.push(url);
        await route.abort();
      }
    });
    const violations: string[] = [];
    const errors: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
      else if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (err) => errors.push(String(err)));

    await page.goto(`${app.url}/docs`, { waitUntil: 'networkidle' });
    await page.locator('h2', { hasText: 'Exchange an API key for an access token' }).first().waitFor({ timeout: 30_000 });
    if (process.env.KEYPORT_DOCS_SCREENSHOT) await page.screenshot({ path: process.env.KEYPORT_DOCS_SCREENSHOT });
    expect(await page.title()).to.equal('Keyport API reference');
    expect(await page.locator('h1').first().textContent()).to.include('Keyport');
    // Operations from each group are there.
    for (const summary of ['Create an agent and its first key', 'Rotate a key', 'Readiness']) {
      expect(await page.getByText(summary).count(), summary).to.be.greaterThan(0);
    }

    expect(elsewhere, 'requests outside this instance').to.deep.equal([]);
    expect(requested).to.include.members(['/docs', '/docs/redoc.standalone.js', '/openapi.json']);
    // Redoc's sidebar credit points at an image on its CDN: img-src refuses it before any request
    // (so it is not in `elsewhere`); that is the only violation allowed.
    const unexpected = violations.filter((text) => !/img-src/.test(text));
    expect(unexpected, 'CSP violations').to.deep.equal([]);
    expect(errors.filter((text) => !/cdn\.redoc\.ly|ERR_FAILED|img-src/.test(text)), 'page errors').to.deep.equal([]);
    await context.close();
  });
});
