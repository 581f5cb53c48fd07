import { expect } from 'chai';
import type { AgentJson, ApiKeyJson } from '../../src/keys/presenters.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { runKeyport, runKeyportInProcess, type CliResult } from '../support/cli.js';
import { dumpDatabase, expectError, secretTail } from './helpers.js';

const KEY_FIELDS = ['id', 'agent_id', 'name', 'prefix', 'scopes', 'access_type', 'env', 'status', 'expires_at', 'ip_allow_list', 'rate_limit', 'effective_rate_limit', 'contact_email', 'created_at', 'last_used_at', 'revoked_at', 'replaced_by', 'grace_until'];

/** What the agent and key commands print with --json: each prints some of these fields (the tests check which). */
interface CommandJson {
  agent: AgentJson;
  agents: AgentJson[];
  key: ApiKeyJson;
  keys: ApiKeyJson[];
  previous_key: ApiKeyJson;
  api_key: string;
  revoked_keys: string[];
  already_revoked: boolean;
}

function json(result: CliResult): CommandJson {
  expect(result.code, result.stderr).to.equal(0);
  const lines = result.stdout.trim().split('\n');
  expect(lines, 'stdout is one JSON object').to.have.length(1);
  return JSON.parse(lines[0]!) as CommandJson;
}

/** A user mistake: exit 1, one line on stderr, nothing on stdout. */
function refused(result: CliResult, fragment: string | RegExp): void {
  expect(result.code, result.stdout + result.stderr).to.equal(1);
  expect(result.stdout).to.equal('');
  const lines = result.stderr.trim().split('\n');
  expect(lines[0]).to.match(typeof fragment === 'string' ? new RegExp(fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : fragment);
  expect(lines.filter((line) => !line.startsWith('(run with --help')), result.stderr).to.have.length(1);
}

/*
 * Commands run through runKeyportInProcess (the CLI's entry in a worker thread, see
 * test/support/cli.ts), but the revocations that must take effect on the running server at once
 * (key:revoke, agent:revoke, key:rotate --grace 0): those run as child processes, as an operator's
 * would. Without Redis the server learns of another process's key changes from its key sweep, at
 * most 250 ms later (docs/api-keys.md), and a command in the worker ends sooner than that.
 */
describe('CLI: agents and keys, end to end', function () {
  // Three child processes (about a second each on a busy 2-core machine).
  this.timeout(120_000);
  let app: TestApp;
  let agentId: string;
  let firstKey: { id: string; apiKey: string };
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('agent:create --json prints the agent, its first key and the secret once', async () => {
    const out = json(await runKeyportInProcess(['agent:create', '--name', 'ci-bot', '--contact', 'ops@example.com', '--scopes', 'read,write', '--env', 'test', '--expires-in', '90d', '--allow-ip', '127.0.0.1,10.0.0.0/8', '--rate-limit-per-min', '30', '--key-name', 'deploy', '--json'], app.env));
    expect(out).to.have.all.keys('agent', 'key', 'api_key');
    expect(out.agent).to.include({ name: 'ci-bot', contact_email: 'ops@example.com', status: 'active' });
    expect(out.agent.id).to.match(/^agent_/);
    expect(out.key).to.have.all.keys(...KEY_FIELDS);
    expect(out.key).to.deep.include({ agent_id: out.agent.id, name: 'deploy', scopes: ['read', 'write'], access_type: 'integrations', env: 'test', status: 'active', ip_allow_list: ['127.0.0.1', '10.0.0.0/8'], contact_email: 'ops@example.com' });
    expect(out.key.rate_limit).to.deep.equal({ per_minute: 30, per_hour: null, burst: null });
    expect(out.key.effective_rate_limit).to.deep.equal({ per_minute: 30, per_hour: 1000, burst: 20 });
    expect(Date.parse(out.key.expires_at!) - Date.now()).to.be.closeTo(90 * 86_400_000, 60_000);
    expect(out.api_key).to.match(/^ak_test_[A-Za-z0-9]{32}$/);
    expect(out.key.prefix).to.equal(out.api_key.slice(0, 12));
    agentId = out.agent.id;
    firstKey = { id: out.key.id, apiKey: out.api_key };

    // The key works against the running server, which shares the database.
    const res = await app.http().get('/auth/test').set('Authorization', `Bearer ${out.api_key}`).expect(200);
    expect(res.body.key).to.include({ id: out.key.id, env: 'test' });
    // The key's own 30 per minute is one of the windows it is held to.
    expect(res.headers['ratelimit-policy']).to.include('q=30;w=60');
  });

  it('agent:create without --json prints readable lines with the key once; no key options means read', async () => {
    const result = await runKeyportInProcess(['agent:create', '--name', 'reporting'], app.env);
    expect(result.code, result.stderr).to.equal(0);
    const keys = result.stdout.match(/ak_live_[A-Za-z0-9]{32}/g) ?? [];
    expect(keys, 'the key appears exactly once').to.have.length(1);
    expect(result.stdout).to.match(/created agent agent_\S+ \(reporting\)/);
    expect(result.stdout).to.match(/scopes:\s+read\n/);
    expect(result.stdout).to.include('shown only once');
    await app.http().get('/auth/test').set('X-API-Key', keys[0]!).expect(200);
  });

  it('key:create --json adds a key to the agent with the documented shape', async () => {
    const out = json(await runKeyportInProcess(['key:create', '--agent', agentId, '--scopes', 'read,write,delete', '--name', 'second', '--rate-limit-per-hour', '100', '--rate-limit-burst', '5', '--json'], app.env));
    expect(out).to.have.all.keys('key', 'api_key');
    expect(out.key).to.deep.include({ agent_id: agentId, name: 'second', scopes: ['read', 'write', 'delete'], env: 'live', access_type: 'integrations', contact_email: 'ops@example.com' });
    expect(out.key.rate_limit).to.deep.equal({ per_minute: null, per_hour: 100, burst: 5 });
    expect(out.api_key).to.match(/^ak_live_/);
    const admin = json(await runKeyportInProcess(['key:create', '--agent', agentId, '--access-type', 'admin', '--scopes', 'admin', '--json'], app.env));
    expect(admin.key).to.deep.include({ access_type: 'admin', scopes: ['admin'] });
  });

  it('key:list and key:show describe keys without the secret; agent:list lists agents', async () => {
    const all = json(await runKeyportInProcess(['key:list', '--json'], app.env));
    expect(all.keys.length).to.be.at.least(4);
    const mine = json(await runKeyportInProcess(['key:list', '--agent', agentId, '--json'], app.env));
    expect(mine.keys).to.have.length(3);
    expect(mine.keys.every((key: { agent_id: string }) => key.agent_id === agentId)).to.equal(true);
    const shown = json(await runKeyportInProcess(['key:show', firstKey.id, '--json'], app.env));
    expect(shown).to.have.all.keys('key');
    expect(shown.key.id).to.equal(firstKey.id);
    const human = await runKeyportInProcess(['key:show', firstKey.id], app.env);
    expect(human.stdout).to.include(firstKey.id).and.include(firstKey.apiKey.slice(0, 12)).and.not.include(secretTail(firstKey.apiKey));
    const humanList = await runKeyportInProcess(['key:list'], app.env);
    expect(humanList.stdout).to.include(firstKey.id).and.not.include(secretTail(firstKey.apiKey));
    const agents = json(await runKeyportInProcess(['agent:list', '--json'], app.env));
    expect(agents.agents.map((agent: { id: string }) => agent.id)).to.include(agentId);
    expect(agents.agents.find((agent: { id: string }) => agent.id === agentId)).to.include({ name: 'ci-bot', status: 'active' });
    expect(JSON.stringify([all, mine, shown, agents])).not.to.include(secretTail(firstKey.apiKey));
  });

  it('key:rotate --grace keeps the old key for the grace period; --grace 0 revokes it at once', async () => {
    const rotated = json(await runKeyportInProcess(['key:rotate', firstKey.id, '--grace', '2h', '--json'], app.env));
    expect(rotated).to.have.all.keys('key', 'api_key', 'previous_key');
    expect(rotated.key).to.deep.include({ agent_id: agentId, name: 'deploy', scopes: ['read', 'write'], env: 'test', ip_allow_list: ['127.0.0.1', '10.0.0.0/8'] });
    expect(rotated.previous_key).to.include({ id: firstKey.id, replaced_by: rotated.key.id, status: 'active' });
    expect(Date.parse(rotated.previous_key.grace_until!) - Date.now()).to.be.closeTo(2 * 3600_000, 60_000);
    await app.http().get('/auth/test').set('X-API-Key', firstKey.apiKey).expect(200);
    await app.http().get('/auth/test').set('X-API-Key', rotated.api_key).expect(200);

    const again = json(await runKeyport(['key:rotate', rotated.key.id, '--grace', '0', '--json'], app.env));
    expect(again.previous_key).to.include({ id: rotated.key.id, status: 'revoked' });
    expectError(await app.http().get('/auth/test').set('X-API-Key', rotated.api_key), 401, 'revoked_api_key');
    await app.http().get('/auth/test').set('X-API-Key', again.api_key).expect(200);
    firstKey = { id: again.key.id, apiKey: again.api_key };

    const human = await runKeyportInProcess(['key:rotate', firstKey.id], app.env);
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.match(/keeps working until \d{4}-/);
    expect(human.stdout.match(/ak_test_[A-Za-z0-9]{32}/g)).to.have.length(1);
  });

  it('key:revoke and agent:revoke take effect on the running server at once', async () => {
    const created = json(await runKeyportInProcess(['agent:create', '--name', 'short-lived', '--json'], app.env));
    const extra = json(await runKeyportInProcess(['key:create', '--agent', created.agent.id, '--json'], app.env));
    await app.http().get('/auth/test').set('X-API-Key', created.api_key).expect(200);
    await app.http().get('/auth/test').set('X-API-Key', extra.api_key).expect(200);

    const revoked = json(await runKeyport(['key:revoke', created.key.id, '--json'], app.env));
    expect(revoked.key).to.include({ id: created.key.id, status: 'revoked' });
    expect(revoked.already_revoked).to.equal(false);
    expectError(await app.http().get('/auth/test').set('X-API-Key', created.api_key), 401, 'revoked_api_key');
    await app.http().get('/auth/test').set('X-API-Key', extra.api_key).expect(200);
    const twice = await runKeyportInProcess(['key:revoke', created.key.id], app.env);
    expect(twice.code).to.equal(0);
    expect(twice.stdout).to.include('already revoked');

    const agent = json(await runKeyport(['agent:revoke', '--id', created.agent.id, '--json'], app.env));
    expect(agent.agent).to.include({ id: created.agent.id, status: 'revoked' });
    expect(agent.revoked_keys).to.deep.equal([extra.key.id]);
    expectError(await app.http().get('/auth/test').set('X-API-Key', extra.api_key), 401, 'revoked_api_key');
    const listed = json(await runKeyportInProcess(['key:list', '--agent', created.agent.id, '--json'], app.env));
    expect(listed.keys.map((key: { status: string }) => key.status)).to.deep.equal(['revoked', 'revoked']);
  });

  it('refuses bad arguments with one line and exit code 1', async () => {
    const cases: Array<[string[], string | RegExp]> = [
      [['agent:create', '--name', 'x', '--scopes', 'read,fly'], 'unknown scope "fly"'],
      [['agent:create', '--name', 'x', '--scopes', 'delete', '--access-type', 'transactional'], 'may not hold scope "delete"'],
      [['agent:create', '--name', 'x', '--env', 'prod'], 'env'],
      [['agent:create', '--name', 'x', '--allow-ip', '10.0.0.0/40'], '"10.0.0.0/40" is not an IPv4/IPv6 address or CIDR range'],
      [['agent:create', '--name', 'x', '--expires-in', 'ninety days'], 'is not a duration'],
      [['agent:create', '--name', 'x', '--contact', 'not-an-email'], 'is not an email address'],
      [['agent:create', '--name', 'x', '--rate-limit-per-min', 'lots'], /argument 'lots' is invalid/],
      [['agent:create'], /required option '--name <name>'/],
      [['key:create', '--agent', 'agt_doesnotexist'], 'No agent with id "agt_doesnotexist"'],
      [['key:create', '--agent', agentId, '--rate-limit-burst', '0'], 'rate limit burst'],
      [['key:show', 'key_doesnotexist'], 'No API key with id "key_doesnotexist"'],
      [['key:rotate', firstKey.id, '--grace', 'later'], 'grace'],
      [['key:revoke', 'nonsense'], 'No API key with id "nonsense"'],
      [['key:list', '--agent', 'agt_nope'], 'No agent with id'],
      [['agent:revoke', '--id', 'agt_nope'], 'No agent with id'],
    ];
    // Writes the server makes in the background (lastUsedAt, per-key usage buckets, failed-check
    // audit rows) would change the dump below: let them land first.
    await app.services.keys.usage.flush();
    await app.services.dashboard.usage.flush();
    await app.services.keys.failures.drain();
    const before = await dumpDatabase(app);
    // A few at a time: the machine is shared.
    const results: CliResult[] = [];
    for (let start = 0; start < cases.length; start += 4) {
      results.push(...await Promise.all(cases.slice(start, start + 4).map(([args]) => runKeyportInProcess(args, app.env))));
    }
    results.forEach((result, index) => {
      refused(result, cases[index]![1]);
    });
    const agents = json(await runKeyportInProcess(['agent:list', '--json'], app.env));
    expect(agents.agents.filter((agent: { name: string }) => agent.name === 'x'), 'refused commands create nothing').to.have.length(0);
    expect((await dumpDatabase(app)).length).to.equal(before.length);
  });

  it('has --help on every command', async () => {
    const top = await runKeyportInProcess(['--help'], app.env);
    expect(top.code).to.equal(0);
    for (const command of ['agent:create', 'agent:list', 'agent:revoke', 'key:create', 'key:list', 'key:show', 'key:rotate', 'key:revoke']) {
      expect(top.stdout, command).to.include(command);
    }
    const [create, agentCreate, rotate] = await Promise.all([
      runKeyportInProcess(['key:create', '--help'], app.env),
      runKeyportInProcess(['agent:create', '--help'], app.env),
      runKeyportInProcess(['key:rotate', '--help'], app.env),
    ]);
    for (const result of [create, agentCreate, rotate]) {
      expect(result.code).to.equal(0);
      expect(result.stdout).to.match(/^Usage: keyport (key|agent):\w+/).and.include('--json');
    }
    for (const option of ['--agent', '--scopes', '--env', '--access-type', '--expires-in', '--allow-ip', '--rate-limit-per-min', '--rate-limit-per-hour', '--rate-limit-burst', '--name']) {
      expect(create.stdout).to.include(option);
    }
    expect(agentCreate.stdout).to.include('--contact').and.include('--scopes');
    expect(rotate.stdout).to.include('--grace');
  });
});
