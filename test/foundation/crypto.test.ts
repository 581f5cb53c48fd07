import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { boundToken, constantTimeEqual, deriveKey, keyedHash, matchesToken, randomToken } from '../../src/lib/crypto.js';
import { CsrfTokens } from '../../src/dashboard/csrf.js';

describe('lib/crypto: keyed hashes and bound tokens', () => {
  const key = deriveKey('a root secret of enough length for tests', 'test-purpose');

  it('boundToken is HMAC-SHA256 of "purpose:value", base64url (the format pages already carry)', () => {
    const expected = createHmac('sha256', key).update('interaction:uid-123').digest('base64url');
    expect(boundToken(key, 'interaction', 'uid-123')).to.equal(expected);
    expect(boundToken(key, 'interaction', 'uid-123')).to.match(/^[A-Za-z0-9_-]{43}$/);
  });

  it('a token for one purpose, value or key is not one for another', () => {
    const token = boundToken(key, 'session', 'abc');
    expect(boundToken(key, 'sign-in', 'abc')).not.to.equal(token);
    expect(boundToken(key, 'session', 'abd')).not.to.equal(token);
    expect(boundToken(deriveKey('a root secret of enough length for tests', 'other'), 'session', 'abc')).not.to.equal(token);
  });

  it('matchesToken accepts the token only, as a string, whatever else a client sends', () => {
    const token = boundToken(key, 'session', 'abc');
    expect(matchesToken(token, token)).to.equal(true);
    for (const presented of [undefined, null, 42, [token], { token }, '', token.slice(1), `${token}x`, token.toUpperCase()]) {
      expect(matchesToken(presented, token), String(presented)).to.equal(false);
    }
  });

  it('constantTimeEqual compares strings of any length without throwing', () => {
    expect(constantTimeEqual('abc', 'abc')).to.equal(true);
    expect(constantTimeEqual('abc', 'abcd')).to.equal(false);
    expect(constantTimeEqual('', '')).to.equal(true);
  });

  it('keyedHash is HMAC-SHA256 in lowercase hex (how keys and secrets are stored)', () => {
    expect(keyedHash(key, 'value')).to.equal(createHmac('sha256', key).update('value').digest('hex'));
  });

  it('the dashboard CSRF tokens are bound tokens: same values as before the move to lib/crypto', () => {
    const csrf = new CsrfTokens(key);
    expect(csrf.forSession('session-token')).to.equal(createHmac('sha256', key).update('session:session-token').digest('base64url'));
    expect(csrf.forSignIn('nonce')).to.equal(createHmac('sha256', key).update('sign-in:nonce').digest('base64url'));
    expect(CsrfTokens.matches(csrf.forSignIn('nonce'), csrf.forSignIn('nonce'))).to.equal(true);
    expect(CsrfTokens.matches(['x'], csrf.forSignIn('nonce'))).to.equal(false);
    const nonce = CsrfTokens.newNonce();
    expect(nonce).to.match(/^[A-Za-z0-9_-]{32}$/);
    expect(CsrfTokens.newNonce()).not.to.equal(nonce);
    expect(randomToken(24)).to.match(/^[A-Za-z0-9_-]{32}$/);
  });
});
