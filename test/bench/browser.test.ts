import { expect } from 'chai';
import { chooseForm, CookieJar, fillForm, parseForms } from '../../bench/lib/browser.js';

// The authorization-code scenario reads Keyport's login and consent pages with these helpers.
describe('bench browser helpers', () => {
  const credentials = { email: 'bench@example.com', password: 'pw&"<' };

  it('fills the login form: hidden fields kept, email and password typed, the positive button pressed', () => {
    const html = `
      <form method="post" action="/interaction/abc/abort"><button type="submit">Cancel</button></form>
      <!-- <form method="post" action="/commented-out"><input type="password" name="x"></form> -->
      <form method="POST" action="/interaction/abc/login?x=1&amp;y=2">
        <input type="hidden" name="_csrf" value="tok&quot;en">
        <input type="email" name="email" required>
        <input type="password" name="password">
        <input type="checkbox" name="remember" checked>
        <input type="checkbox" name="marketing">
        <button type="submit" name="action" value="login">Sign in</button>
        <button type="submit" name="action" value="cancel">Cancel</button>
      </form>`;
    const form = chooseForm(parseForms(html))!;
    expect(form.action).to.equal('/interaction/abc/login?x=1&y=2');
    expect(form.method).to.equal('POST');
    const fields = fillForm(form, credentials);
    expect([...fields]).to.deep.equal([
      ['_csrf', 'tok"en'], ['email', credentials.email], ['password', credentials.password], ['remember', 'on'], ['action', 'login'],
    ]);
  });

  it('takes a text input named like a login for the email (oidc-provider\'s dev pages name it "login")', () => {
    const form = chooseForm(parseForms(`<form action='/i/1' method=post><input type=hidden name=prompt value=login><input name=login><input type=password name=password><button>Go</button></form>`))!;
    expect(Object.fromEntries(fillForm(form, credentials))).to.deep.equal({ prompt: 'login', login: credentials.email, password: credentials.password });
  });

  it('picks the confirming form on a consent page, not the abort one', () => {
    const forms = parseForms(`
      <form action="/interaction/u1/abort" method="post"><button>No</button></form>
      <form action="/interaction/u1/confirm" method="post"><input type="hidden" name="prompt" value="consent"><button autofocus>Continue</button></form>`);
    expect(chooseForm(forms)!.action).to.equal('/interaction/u1/confirm');
    expect(chooseForm([])).to.equal(undefined);
  });

  it('keeps cookies by path, sends the most specific first, and drops expired ones', () => {
    const jar = new CookieJar();
    const base = new URL('http://127.0.0.1:1/oauth/authorize');
    jar.store(base, ['_session=s1; path=/; httponly', '_interaction=i1; path=/interaction/u1; httponly', '_resume=r1; path=/oauth/authorize/u1']);
    expect(jar.header(new URL('http://127.0.0.1:1/interaction/u1'))).to.equal('_interaction=i1; _session=s1');
    expect(jar.header(new URL('http://127.0.0.1:1/interaction/u10'))).to.equal('_session=s1');
    expect(jar.header(new URL('http://127.0.0.1:1/oauth/authorize/u1'))).to.equal('_resume=r1; _session=s1');
    jar.store(base, ['_session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT', '_resume=; path=/oauth/authorize/u1; max-age=0']);
    expect(jar.header(new URL('http://127.0.0.1:1/oauth/authorize/u1'))).to.equal(undefined);
  });
});
