import { expect } from 'chai';
import fc from 'fast-check';
import * as querystring from 'node:querystring';
import { parseFastPathForm } from '../../src/oidc/fast_path.js';

const NAMES: ReadonlySet<string> = new Set(['grant_type', 'scope', 'token']);

/** What the fast paths may accept: querystring.parse's reading, every name known, single, non-empty. */
function acceptable(text: string): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(querystring.parse(text))) {
    if (!NAMES.has(name) || typeof value !== 'string' || value.length === 0) return undefined;
    params[name] = value;
  }
  return params;
}

describe('oidc: the fast paths\' form reading (parseFastPathForm)', () => {
  it('accepts only what querystring.parse reads the same way, on random forms', () => {
    let answered = 0;
    const name = fc.constantFrom('grant_type', 'scope', 'token', 'token', 'scope', 'other', 'sc%6Fpe', '', 'to+ken');
    const value = fc.array(fc.constantFrom('a', 'read', '%20', '+', '%', '=', '&', '%3D', '%2', ' '), { maxLength: 4 }).map((parts) => parts.join(''));
    const form = fc.tuple(fc.array(fc.tuple(name, value), { maxLength: 4 }), fc.constantFrom('', '&', '=', '&&')).map(([pairs, tail]) => pairs.map(([n, v]) => `${n}=${v}`).join('&') + tail);
    fc.assert(fc.property(form, (text) => {
      const parsed = parseFastPathForm(text, NAMES);
      // Stepping aside is always allowed; an answer must be exactly querystring's.
      if (parsed !== undefined) {
        answered += 1;
        expect(parsed, text).to.deep.equal(acceptable(text));
      }
    }), { numRuns: 20_000 });
    // The property is about answers: enough of the random forms must have been answered.
    expect(answered).to.be.greaterThan(500);
  });

  it('reads plain and encoded forms, and turns away unknown, repeated and empty parameters', () => {
    expect(parseFastPathForm('grant_type=client_credentials&scope=read', NAMES)).to.deep.equal({ grant_type: 'client_credentials', scope: 'read' });
    expect(parseFastPathForm('scope=read+write&token=a%3Db', NAMES)).to.deep.equal({ scope: 'read write', token: 'a=b' });
    expect(parseFastPathForm('grant_type=x&subject_token=y', NAMES)).to.equal(undefined);
    expect(parseFastPathForm('scope=a&scope=b', NAMES)).to.equal(undefined);
    expect(parseFastPathForm('scope=%61&scope=b', NAMES)).to.equal(undefined);
    expect(parseFastPathForm('scope=', NAMES)).to.equal(undefined);
    expect(parseFastPathForm('scope', NAMES)).to.equal(undefined);
  });
});
