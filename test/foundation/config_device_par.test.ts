import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/errors.js';

const SECRET = 'x'.repeat(40);
const load = (env: Record<string, string>) => loadConfig({ KEYPORT_SECRET: SECRET, ...env }, mkdtempSync(join(tmpdir(), 'kp-cfg-')));

/** DEVICE_FLOW, PAR_REQUIRED and RATE_LIMIT_USER_CODE_PER_IP (docs/reference.md §1). */
describe('configuration: device grant, PAR, code-entry limit', () => {
  it('defaults: device grant on, PAR not required, 10 code entries per address per minute', () => {
    const config = load({});
    expect(config.deviceAndPar).to.deep.equal({ deviceFlow: true, parRequired: false });
    expect(config.rateLimitPolicies.userCodeEntriesPerIpPerMinute).to.equal(10);
    expect(Object.isFrozen(config.deviceAndPar)).to.equal(true);
  });

  it('reads them', () => {
    const config = load({ DEVICE_FLOW: 'false', PAR_REQUIRED: 'true', RATE_LIMIT_USER_CODE_PER_IP: '3' });
    expect(config.deviceAndPar).to.deep.equal({ deviceFlow: false, parRequired: true });
    expect(config.rateLimitPolicies.userCodeEntriesPerIpPerMinute).to.equal(3);
  });

  for (const [env, variable] of [[{ DEVICE_FLOW: 'maybe' }, 'DEVICE_FLOW'], [{ PAR_REQUIRED: '1x' }, 'PAR_REQUIRED'], [{ RATE_LIMIT_USER_CODE_PER_IP: '0' }, 'RATE_LIMIT_USER_CODE_PER_IP']] as const) {
    it(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      expect(() => load(env)).to.throw(ConfigError, variable);
    });
  }
});
