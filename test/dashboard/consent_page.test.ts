import { expect } from 'chai';
import type supertest from 'supertest';
import type { TestApp } from '../support/app.js';
import { REDIRECT_URI, client, createUser, csrfOf, discover, registerClient, startOidcApp, type RegisteredClient } from '../oidc/support.js';

/**
 * The consent page's content in the dashboard's look (views/consent.ejs inside views/layout.ejs):
 * who asks, for which account, each requested scope in words with its name, two clear buttons.
 * The flow itself is covered in test/oidc/authorization_code/; the browser check is in
 * browser_lists.test.ts.
 */
describe('dashboard style: the consent page', () => {
  let app: TestApp;
  let web: RegisteredClient;
  const user = { email: 'grace@example.com', password: 'correct horse battery' };

  before(async () => {
    app = await startOidcApp();
    web = await registerClient(app, { name: 'Reports <Beta> & Co', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI] });
    await createUser(app, user.email, user.password);
  });
  after(async () => { await app.close(); });

  async function openConsent(scope: string): Promise<{ agent: supertest.Agent; html: string; status: number; headers: Record<string, string> }> {
    const agent = app.http();
    const config = await discover(app, web);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope, state: 'st', nonce: 'n', prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const start = await agent.get(`${url.pathname}${url.search}`).expect(303);
    const login = await agent.get(start.headers.location as string).expect(200);
    const signedIn = await agent.post(`${start.headers.location as string}/login`).type('form').send({ csrf: csrfOf(login.text), email: user.email, password: user.password });
    expect(signedIn.status).to.equal(303);
    let location = signedIn.headers.location as string;
    for (let hop = 0; hop < 5 && !location.startsWith('/interaction/'); hop += 1) {
      const url = new URL(location, app.config.issuer);
      location = (await agent.get(`${url.pathname}${url.search}`)).headers.location as string;
    }
    const page = await agent.get(location);
    return { agent, html: page.text, status: page.status, headers: page.headers };
  }

  it('names the client and the account, and lists each scope in words with its name', async () => {
    const { html, status, headers } = await openConsent('openid email read');
    expect(status).to.equal(200);
    expect(headers['content-type']).to.match(/^text\/html/);
    expect(html).to.include('<header class="top"><p>Keyport <span>sign-in</span></p></header>');
    expect(html).to.include('<h1>Allow access?</h1>');
    expect(html).to.include('<strong class="client-name">Reports &lt;Beta&gt; &amp; Co</strong> wants to access your Keyport account <strong>grace@example.com</strong>');
    expect(html).to.include('If you allow it, it will be able to:');
    const items = [...html.matchAll(/<li><span class="scope-text">([^<]+)<\/span> <small class="scope-name">\(<code>([^<]+)<\/code>\)<\/small><\/li>/g)].map((match) => [match[2], match[1]]);
    expect(items).to.deep.equal([
      ['openid', 'Confirm who you are'],
      ['email', 'See your email address'],
      ['read', 'Read your data'],
    ]);
    expect(items).to.have.length(3);
    expect(html).not.to.match(/<script/i);
  });

  it('offers two clear choices in one form: "Allow access" (the default) and "Deny"', async () => {
    const { html } = await openConsent('openid read');
    const form = html.split('<form method="post" action="/interaction/')[1]!.split('</form>')[0]!;
    expect(form).to.include('<button type="submit" class="primary" name="decision" value="allow" autofocus>Allow access</button>');
    expect(form).to.include('<button type="submit" class="secondary" name="decision" value="deny">Deny</button>');
    expect(form).to.match(/<input type="hidden" name="csrf" value="[^"]+">/);
    expect(html).to.include('Deny sends you back to Reports &lt;Beta&gt; &amp; Co without access');
  });
});
