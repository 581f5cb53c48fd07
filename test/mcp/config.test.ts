import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { hostMatches } from '../../src/oidc/client_metadata_documents.js';

const dir = mkdtempSync(join(tmpdir(), 'keyport-mcp-config-'));
function load(env: Record<string, string>) {
  return loadConfig({ DATA_DIR: dir, KEYPORT_SECRET: 'x'.repeat(40), ...env }, dir);
}

describe('mcp: configuration of clients without prior registration', () => {
  it('has safe defaults: metadata documents on, registration closed', () => {
    expect(load({}).clientRegistration).to.deep.equal({
      metadataDocuments: true, metadataAllowedHosts: [], metadataDeniedHosts: [], registration: 'closed',
      registeredClientTtl: 90 * 86_400, registrationPerIpPerMinute: 10, clientUrlCaFile: undefined,
    });
  });

  it('reads every variable', () => {
    const settings = load({
      CIMD_ENABLED: 'false', CIMD_ALLOWED_HOSTS: 'Agents.Example.com, *.example.org', CIMD_DENIED_HOSTS: 'evil.example.org',
      REGISTRATION_POLICY: 'open-public', REGISTERED_CLIENT_TTL: '0', RATE_LIMIT_REGISTRATION_PER_IP: '3', CLIENT_URL_CA_FILE: 'ca.pem',
    }).clientRegistration;
    expect(settings).to.deep.equal({
      metadataDocuments: false, metadataAllowedHosts: ['agents.example.com', '*.example.org'], metadataDeniedHosts: ['evil.example.org'],
      registration: 'open-public', registeredClientTtl: 0, registrationPerIpPerMinute: 3, clientUrlCaFile: join(dir, 'ca.pem'),
    });
    expect(Object.isFrozen(settings)).to.equal(true);
  });

  for (const [env, message] of [
    [{ REGISTRATION_POLICY: 'open' }, /^REGISTRATION_POLICY: must be one of closed, initial-access-token, open-public/],
    [{ CIMD_ALLOWED_HOSTS: 'https://example.com' }, /^CIMD_ALLOWED_HOSTS: must list host names or \*\.domain patterns/],
    [{ CIMD_DENIED_HOSTS: 'example.com:443' }, /^CIMD_DENIED_HOSTS: must list host names/],
    [{ CIMD_DENIED_HOSTS: '*' }, /^CIMD_DENIED_HOSTS: must list host names/],
    [{ CIMD_ENABLED: 'maybe' }, /^CIMD_ENABLED: must be true or false/],
    [{ REGISTERED_CLIENT_TTL: '-1' }, /^REGISTERED_CLIENT_TTL: must be a whole number/],
    [{ RATE_LIMIT_REGISTRATION_PER_IP: '0' }, /^RATE_LIMIT_REGISTRATION_PER_IP: must be between 1/],
  ] as Array<[Record<string, string>, RegExp]>) {
    it(`refuses ${JSON.stringify(env)}`, () => {
      expect(() => load(env)).to.throw(message);
    });
  }

  it('matches host patterns: exact names, and *.domain for subdomains only', () => {
    expect(hostMatches('app.example.com', 'app.example.com')).to.equal(true);
    expect(hostMatches('APP.example.com', 'app.example.com')).to.equal(true);
    expect(hostMatches('a.example.com', '*.example.com')).to.equal(true);
    expect(hostMatches('a.b.example.com', '*.example.com')).to.equal(true);
    expect(hostMatches('example.com', '*.example.com')).to.equal(false);
    expect(hostMatches('badexample.com', '*.example.com')).to.equal(false);
    expect(hostMatches('app.example.com.evil.io', 'app.example.com')).to.equal(false);
  });
});
