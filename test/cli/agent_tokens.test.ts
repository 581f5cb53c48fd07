import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';
import { runKeyport, runKeyportInProcess, type CliResult } from '../support/cli.js';

import type { AgentJson, ApiKeyJson } from '../../src/keys/presenters.js';

/** What the agent-token commands print with --json: each prints some of these fields. */
interface TokenJson {
  agent: AgentJson;
  key: ApiKeyJson;
  previous_key: ApiKeyJson;
  agent_token: string;
  already_revoked: boolean;
}

function json(result: CliResult): TokenJson {
  expect(result.code, result.stderr).to.equal(0);
  return JSON.parse(result.stdout.trim()) as TokenJson;
}

/**
 * `agent:create --with-token` and `agent:token:*` (docs/cli.md), end to end: commands in the CLI
 * worker (test/support/cli.ts), the rotation whose old token must stop working at once in a child
 * process, as an operator's would.
 */
describe('CLI: agent access tokens', function () {
  this.timeout(120_000);
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('agent:create --with-token prints the agent and its token once; the token works', async () => {
    const out = json(await runKeyportInProcess(['agent:create', '--name', 'tokened', '--with-token', '--scopes', 'read,write', '--json'], app.env));
    expect(out).to.have.all.keys('agent', 'key', 'agent_token');
    expect(out.agent_token).to.match(/^agt_[A-Za-z0-9]{32}$/);
    expect(out.key).to.include({ prefix: out.agent_token.slice(0, 8), env: 'live', name: 'API access' });
    const test = await app.http().get('/auth/test').set('Authorization', `Bearer ${out.agent_token}`);
    expect(test.status, test.text).to.equal(200);
    const human = await runKeyportInProcess(['agent:create', '--name', 'readable', '--with-token'], app.env);
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.match(/created agent agent_\S+ \(readable\)/).and.match(/\n {2}agt_[A-Za-z0-9]{32}\n/).and.include('shown only once');
  });

  it('agent:token:create, show, rotate and revoke; a legacy agt_ agent id works with a warning', async () => {
    const agent = json(await runKeyportInProcess(['agent:create', '--name', 'plain', '--json'], app.env)).agent.id as string;
    const created = json(await runKeyportInProcess(['agent:token:create', '--agent', agent, '--rate-limit-burst', '5', '--json'], app.env));
    expect(created).to.have.all.keys('key', 'agent_token');
    const again = await runKeyportInProcess(['agent:token:create', '--agent', agent], app.env);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('already has an agent access token');

    const legacy = agent.replace(/^agent_/, 'agt_');
    const shown = await runKeyportInProcess(['agent:token:show', '--agent', legacy, '--json'], app.env);
    expect(json(shown).key.id).to.equal(created.key.id);
    expect(shown.stderr).to.match(/warning: agent id "agt_\w+" uses the deprecated "agt_" form/);
    expect(shown.stdout).not.to.include(created.agent_token);

    const rotated = json(await runKeyport(['agent:token:rotate', '--agent', agent, '--grace', '0', '--json'], app.env));
    expect(rotated.previous_key).to.include({ id: created.key.id, status: 'revoked' });
    expect(rotated.agent_token).to.match(/^agt_[A-Za-z0-9]{32}$/);
    const refused = await app.http().get('/auth/test').set('Authorization', `Bearer ${created.agent_token}`);
    expect(refused.status).to.equal(401);

    const revoked = json(await runKeyportInProcess(['agent:token:revoke', '--agent', agent, '--json'], app.env));
    expect(revoked).to.deep.include({ already_revoked: false });
    const none = await runKeyportInProcess(['agent:token:show', '--agent', agent], app.env);
    expect(none.stdout.trim()).to.equal('the agent has no agent access token');
  });
});
