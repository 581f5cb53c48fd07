import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { CLIENT_SWEEP_INTERVAL_MS } from '../../src/clients/client_cache.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { runKeyport, runKeyportInProcess, type CliResult } from '../support/cli.js';
import { onMysql } from '../support/database.js';

/*
 * The CLI as a new user meets it (issue 19, part 4). Each `it` names the before/after it pins.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const VERSION = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

function ok(result: CliResult): CliResult {
  expect(result.code, result.stderr).to.equal(0);
  return result;
}

function json<T = Record<string, unknown>>(result: CliResult): T {
  ok(result);
  const lines = result.stdout.trim().split('\n');
  expect(lines, 'stdout is one JSON object').to.have.length(1);
  return JSON.parse(lines[0]!) as T;
}

/** A user mistake: exit 1 and exactly one line on stderr (besides commander's usage hint). */
function refused(result: CliResult, pattern: RegExp): string {
  expect(result.code, result.stdout + result.stderr).to.equal(1);
  expect(result.stdout).to.equal('');
  const lines = result.stderr.trim().split('\n').filter((line) => !line.startsWith('(run with --help'));
  expect(lines, result.stderr).to.have.length(1);
  expect(lines[0]).to.match(pattern);
  return lines[0]!;
}

/** Columns line up: every row's cells start where the header's do. */
function expectAligned(stdout: string, headers: string[]): string[] {
  const lines = stdout.trimEnd().split('\n');
  const header = lines[0]!;
  const starts = headers.map((name) => header.indexOf(name));
  expect(starts.every((start, index) => start >= 0 && (index === 0 || start > starts[index - 1]!)), header).to.equal(true);
  for (const line of lines.slice(1)) {
    for (const start of starts.slice(1)) {
      expect(line[start - 1], `${line}\n${header}`).to.equal(' ');
      expect(line[start], `${line}\n${header}`).not.to.equal(' ');
    }
    expect(line).to.equal(line.trimEnd());
  }
  return lines;
}

/*
 * Most commands run through runKeyportInProcess (the CLI's entry in a worker thread, see
 * test/support/cli.ts); a few run as child processes, as a user starts them, where the process is
 * part of what is checked: --version (bin/keyport.js and the package.json beside it), an argument
 * mistake's exit status, a piped --password-stdin, the database line of a write and a failed
 * lookup's one stderr line.
 */
describe('CLI: what a new user meets', function () {
  // Some child processes on a busy 2-core machine.
  this.timeout(120_000);
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  it('--version prints the package version (before: "unknown option")', async () => {
    for (const flag of ['--version', '-V']) {
      const result = ok(await runKeyport([flag], app.env));
      expect(result.stdout.trim()).to.equal(VERSION);
    }
  });

  it('--help marks required options (before: nothing told --name from --contact)', async () => {
    const [agent, client, user] = await Promise.all([
      runKeyportInProcess(['agent:create', '--help'], app.env),
      runKeyportInProcess(['client:create', '--help'], app.env),
      runKeyportInProcess(['user:create', '--help'], app.env),
    ]);
    // An option's line with its wrapped continuation lines.
    const optionLine = (help: string, option: string) => help.replace(/\n {10,}(?!-)/g, ' ').split('\n').find((line) => line.trimStart().startsWith(option)) ?? '';
    expect(optionLine(agent.stdout, '--name')).to.include('(required)');
    expect(optionLine(agent.stdout, '--contact')).not.to.include('(required)');
    expect(optionLine(client.stdout, '--name')).to.include('(required)');
    expect(optionLine(client.stdout, '--grant')).to.include('(required)');
    expect(optionLine(client.stdout, '--scopes')).not.to.include('(required)');
    expect(optionLine(user.stdout, '--email')).to.include('(required)');
    expect(user.stdout).to.include('--password-stdin').and.include('KEYPORT_USER_PASSWORD');
    const top = ok(await runKeyportInProcess(['--help'], app.env));
    for (const command of ['user:delete', 'user:password', 'client:rotate-secret', '--version']) expect(top.stdout).to.include(command);
  });

  it('agent:revoke takes the id as its argument; --id still works with a deprecation warning (before: only --id)', async () => {
    const first = json<{ agent: { id: string } }>(await runKeyportInProcess(['agent:create', '--name', 'revoke-positional', '--json'], app.env));
    const revoked = await runKeyportInProcess(['agent:revoke', first.agent.id, '--json'], app.env);
    expect(json<{ agent: { status: string } }>(revoked).agent.status).to.equal('revoked');
    expect(revoked.stderr).not.to.match(/deprecated/);

    const second = json<{ agent: { id: string } }>(await runKeyportInProcess(['agent:create', '--name', 'revoke-flag', '--json'], app.env));
    const old = await runKeyportInProcess(['agent:revoke', '--id', second.agent.id, '--json'], app.env);
    expect(json<{ agent: { status: string } }>(old).agent.status).to.equal('revoked');
    expect(old.stderr).to.include(`keyport: warning: agent:revoke --id is deprecated; pass the id as the argument: keyport agent:revoke ${second.agent.id}`);

    refused(await runKeyport(['agent:revoke'], app.env), /missing required argument 'id'/);
    refused(await runKeyportInProcess(['agent:revoke', first.agent.id, '--id', second.agent.id], app.env), /give the agent id once/);
    const help = ok(await runKeyportInProcess(['agent:revoke', '--help'], app.env));
    expect(help.stdout).to.match(/Usage: keyport agent:revoke \[options\] \[id\]/);
    expect(help.stdout).not.to.include('--id');
  });

  it('says which database every write used, after the answer, on stderr; a missing id names it too (before: silent)', async () => {
    // SQLite's path is shown relative to the working directory when that is shorter (../keyport-…/keyport.db
    // from a clone in /tmp), absolute otherwise: either way it names the app's database file.
    const shown = onMysql ? /keyport: using mysql:\/\/[^ ]+\/keyport_t_[0-9a-f]+\n/ : /keyport: using sqlite:((?:\/|\.\.?\/)\S*keyport\.db)\n/;
    const created = await runKeyport(['agent:create', '--name', 'which-db', '--json'], app.env);
    json(created);
    expect(created.stderr).to.match(shown);
    if (!onMysql) {
      const shownPath = created.stderr.match(shown)![1]!;
      expect(existsSync(resolve(process.cwd(), shownPath)), `${shownPath} is the app's database file`).to.equal(true);
      expect(resolve(process.cwd(), shownPath).startsWith(resolve(app.env.DATA_DIR!)), `${shownPath} lies in DATA_DIR`).to.equal(true);
    }
    const listed = ok(await runKeyportInProcess(['agent:list', '--json'], app.env));
    expect(listed.stderr, 'reads stay quiet').to.equal('');
    const missing = refused(await runKeyport(['key:revoke', 'key_doesnotexist'], app.env), /No API key with id "key_doesnotexist"\. \(database: (sqlite|mysql):/);
    expect(missing).not.to.match(/using/);
    if (onMysql) {
      // A password in DATABASE_URL is never shown.
      const url = new URL(app.env.DATABASE_URL!);
      url.password = 'sw0rdfish-not-shown';
      const withPassword = await runKeyportInProcess(['agent:revoke', 'agt_nope'], { ...app.env, DATABASE_URL: url.toString() });
      expect(withPassword.stderr).not.to.include('sw0rdfish');
    }
  });

  it('list commands print aligned columns under a header (before: unlabeled, ragged lines); --json unchanged', async () => {
    ok(await runKeyportInProcess(['agent:create', '--name', 'tabled agent', '--contact', 'ops@example.com'], app.env));
    ok(await runKeyportInProcess(['user:create', '--email', 'table@example.com', '--password', 'a long password'], app.env));
    ok(await runKeyportInProcess(['client:create', '--name', 'Tabled', '--grant', 'client_credentials,token_exchange'], app.env));
    // Agent names may not hold control characters; client names may.
    ok(await runKeyportInProcess(['client:create', '--name', 'a name with\nnewline', '--grant', 'client_credentials'], app.env));
    const cases: Array<[string[], string[]]> = [
      [['agent:list'], ['ID', 'STATUS', 'NAME', 'CONTACT', 'CREATED']],
      [['key:list'], ['ID', 'PREFIX', 'STATUS', 'ACCESS TYPE', 'ENV', 'SCOPES', 'AGENT', 'NAME']],
      [['client:list'], ['CLIENT ID', 'AUTH METHOD', 'GRANT TYPES', 'SCOPE', 'NAME']],
      [['user:list'], ['ID', 'EMAIL', 'ADMIN', 'CREATED']],
      [['resource:list'], ['AUDIENCE', 'FORMAT', 'TTL', 'SCOPES']],
      [['signing-key:list'], ['KID', 'ALG', 'STATUS', 'PUBLISHED UNTIL']],
    ];
    const results = await Promise.all(cases.map(([args]) => runKeyportInProcess(args, app.env)));
    results.forEach((result, index) => {
      ok(result);
      const lines = expectAligned(result.stdout, cases[index]![1]);
      expect(lines.length, result.stdout).to.be.at.least(2);
    });
    expect(results[0]!.stdout).to.match(/ active +tabled agent +ops@example\.com +20/);
    expect(results[2]!.stdout).to.match(/client_credentials,token_exchange +read +Tabled\n/);
    // A control character in a name is shown escaped: the row stays one row; --json keeps it as it is.
    expect(results[2]!.stdout).to.include('a name with\\nnewline');
    const { clients } = json<{ clients: Array<{ client_name: string }> }>(await runKeyportInProcess(['client:list', '--json'], app.env));
    expect(clients.map((client) => client.client_name)).to.include('a name with\nnewline');
  });

  it('user:create --password-stdin and KEYPORT_USER_PASSWORD set a password without a terminal (before: --password or a TTY only)', async () => {
    const piped = json<{ user: { id: string } }>(await runKeyport(['user:create', '--email', 'piped@example.com', '--password-stdin', '--json'], app.env, 'piped secret 123\n'));
    expect(await app.services.oidc.users.verifyPassword('piped@example.com', 'piped secret 123')).to.have.property('id', piped.user.id);
    const crlf = json(await runKeyportInProcess(['user:create', '--email', 'crlf@example.com', '--password-stdin', '--json'], app.env, 'crlf secret 123\r\n'));
    expect(crlf).to.have.property('user');
    expect(await app.services.oidc.users.verifyPassword('crlf@example.com', 'crlf secret 123')).to.not.equal(undefined);

    json(await runKeyportInProcess(['user:create', '--email', 'fromenv@example.com', '--json'], { ...app.env, KEYPORT_USER_PASSWORD: 'env secret 1234' }));
    expect(await app.services.oidc.users.verifyPassword('fromenv@example.com', 'env secret 1234')).to.not.equal(undefined);

    refused(await runKeyportInProcess(['user:create', '--email', 'both@example.com', '--password', 'x long enough', '--password-stdin'], app.env, 'y\n'), /one way/);
    refused(await runKeyportInProcess(['user:create', '--email', 'short@example.com', '--password-stdin'], app.env, 'short\n'), /at least 8 characters/);
    // Nothing of the passwords in the audit trail or the logs.
    const audit = JSON.stringify(await app.services.audit.list());
    for (const secret of ['piped secret 123', 'crlf secret 123', 'env secret 1234']) {
      expect(audit).not.to.include(secret);
      expect(app.logs.join('\n')).not.to.include(secret);
    }
  });

  it('user:password changes the password and user:delete removes the user, by email or id (before: no such commands)', async () => {
    const { user } = json<{ user: { id: string } }>(await runKeyportInProcess(['user:create', '--email', 'change@example.com', '--password', 'first password', '--json'], app.env));
    const changed = await runKeyportInProcess(['user:password', 'Change@Example.com', '--password-stdin', '--json'], app.env, 'second password\n');
    expect(json<{ user: { id: string } }>(changed).user.id).to.equal(user.id);
    expect(changed.stderr).to.match(/keyport: using /);
    expect(await app.services.oidc.users.verifyPassword('change@example.com', 'first password')).to.equal(undefined);
    expect(await app.services.oidc.users.verifyPassword('change@example.com', 'second password')).to.have.property('id', user.id);
    ok(await runKeyportInProcess(['user:password', user.id], { ...app.env, KEYPORT_USER_PASSWORD: 'third password' }));
    expect(await app.services.oidc.users.verifyPassword('change@example.com', 'third password')).to.have.property('id', user.id);
    refused(await runKeyportInProcess(['user:password', 'change@example.com', '--password', 'short'], app.env), /at least 8 characters/);
    refused(await runKeyportInProcess(['user:password', 'nobody@example.com', '--password', 'long enough password'], app.env), /No user "nobody@example.com"/);

    const deleted = json<{ deleted: string; email: string }>(await runKeyportInProcess(['user:delete', user.id, '--json'], app.env));
    expect(deleted).to.deep.equal({ deleted: user.id, email: 'change@example.com' });
    expect(await app.services.oidc.users.findById(user.id)).to.equal(undefined);
    refused(await runKeyportInProcess(['user:delete', 'change@example.com'], app.env), /No user "change@example.com"/);
    const actions = (await app.services.audit.list({ targetId: user.id })).map((event) => event.action);
    expect(actions).to.include.members(['user.created', 'user.password_changed', 'user.deleted']);
    expect(JSON.stringify(await app.services.audit.list({ targetId: user.id }))).not.to.match(/first password|second password|third password/);
  });

  it('client:rotate-secret prints a new secret once; the old one stops working (before: no such command)', async () => {
    const created = json<{ client_id: string; client_secret: string }>(await runKeyportInProcess(['client:create', '--name', 'Rotated', '--grant', 'client_credentials', '--json'], app.env));
    const token = (secret: string) => app.http().post('/oauth/token').type('form').auth(created.client_id, secret).send({ grant_type: 'client_credentials' });
    expect((await token(created.client_secret)).status).to.equal(200);
    const rotated = await runKeyportInProcess(['client:rotate-secret', created.client_id, '--json'], app.env);
    const answer = json<{ client_id: string; client_secret: string }>(rotated);
    expect(answer).to.have.all.keys('client_id', 'client_secret');
    expect(answer.client_id).to.equal(created.client_id);
    expect(answer.client_secret).to.be.a('string').with.length.above(40).and.not.equal(created.client_secret);
    expect(rotated.stderr).not.to.include(answer.client_secret);
    // The server learns of another process's change at once on SQLite (its change counter) and
    // within the client sweep's interval on MySQL without Redis (src/clients/client_cache.ts).
    if (onMysql) await new Promise((resolve) => setTimeout(resolve, CLIENT_SWEEP_INTERVAL_MS + 50));
    expect((await token(answer.client_secret)).status).to.equal(200);
    expect((await token(created.client_secret)).status).to.equal(401);

    const human = ok(await runKeyportInProcess(['client:rotate-secret', created.client_id], app.env));
    expect(human.stdout.match(/client_secret: (\S+)/)?.[1]).to.be.a('string');
    expect(human.stdout).to.include('shown once');
    const listed = ok(await runKeyportInProcess(['client:list', '--json'], app.env));
    expect(listed.stdout).not.to.include(answer.client_secret);
    expect(JSON.stringify(await app.services.audit.list())).not.to.include(answer.client_secret);

    const spa = json<{ client_id: string }>(await runKeyportInProcess(['client:create', '--name', 'SPA', '--grant', 'authorization_code', '--redirect-uri', 'https://spa.example.com/cb', '--public', '--json'], app.env));
    refused(await runKeyportInProcess(['client:rotate-secret', spa.client_id], app.env), /no secret to rotate/);
    refused(await runKeyportInProcess(['client:rotate-secret', 'cli_nosuchclient'], app.env), /No client with id cli_nosuchclient/);
  });

  it('warns on a duplicate agent or client name, and still creates it (before: silent)', async () => {
    const first = json<{ agent: { id: string } }>(await runKeyportInProcess(['agent:create', '--name', 'twice', '--json'], app.env));
    const second = await runKeyportInProcess(['agent:create', '--name', 'Twice', '--json'], app.env);
    json(second);
    expect(second.stderr).to.include(`keyport: warning: another agent is already named "Twice" (${first.agent.id})`);
    const unique = await runKeyportInProcess(['agent:create', '--name', 'once only', '--json'], app.env);
    expect(json(unique)).to.have.property('agent');
    expect(unique.stderr).not.to.include('warning');

    const client = json<{ client_id: string }>(await runKeyportInProcess(['client:create', '--name', 'dup', '--grant', 'client_credentials', '--json'], app.env));
    const again = await runKeyportInProcess(['client:create', '--name', 'dup', '--grant', 'client_credentials', '--json'], app.env);
    json(again);
    expect(again.stderr).to.include(`keyport: warning: another client is already named "dup" (${client.client_id})`);
  });

  it('client:create --scopes accepts known scopes only, like keys (before: any well-formed word)', async () => {
    const before = json<{ clients: unknown[] }>(await runKeyportInProcess(['client:list', '--json'], app.env)).clients.length;
    refused(await runKeyportInProcess(['client:create', '--name', 'X', '--grant', 'client_credentials', '--scopes', 'read,bogus'], app.env),
      /^keyport: scopes: unknown scope "bogus"; known scopes: openid, offline_access, email, read, write, delete, admin/);
    // Malformed scopes keep their own message.
    refused(await runKeyportInProcess(['client:create', '--name', 'X', '--grant', 'client_credentials', '--scopes', 'bad"scope'], app.env), /Invalid scope/);
    expect(json<{ clients: unknown[] }>(await runKeyportInProcess(['client:list', '--json'], app.env)).clients.length).to.equal(before);
    // Configured extra scopes and scopes a registered resource server declares are known.
    json(await runKeyportInProcess(['resource:create', '--audience', 'https://invoices.example.com', '--scopes', 'invoices:read', '--json'], app.env));
    const custom = json<{ scope: string }>(await runKeyportInProcess(['client:create', '--name', 'Invoicing', '--grant', 'client_credentials', '--scopes', 'read,invoices:read,billing', '--json'], { ...app.env, KEYPORT_EXTRA_SCOPES: 'billing' }));
    expect(custom.scope).to.equal('read invoices:read billing');
  });

  it('redirect URI errors quote the whole value on one line (before: a pasted newline split the message, spaces were accepted)', async () => {
    const pasted = refused(await runKeyportInProcess(['client:create', '--name', 'X', '--grant', 'authorization_code', '--redirect-uri', 'https://a.example.com/cb\nhttps://b.example.com/cb'], app.env),
      /redirect URI "https:\/\/a\.example\.com\/cb\\nhttps:\/\/b\.example\.com\/cb" contains blanks or control characters/);
    expect(pasted).to.include('https://b.example.com/cb');
    refused(await runKeyportInProcess(['client:create', '--name', 'X', '--grant', 'authorization_code', '--redirect-uri', 'https://a.example.com/cb https://b.example.com/cb'], app.env),
      /redirect URI "https:\/\/a\.example\.com\/cb https:\/\/b\.example\.com\/cb" contains blanks/);
    refused(await runKeyportInProcess(['client:create', '--name', 'X', '--grant', 'authorization_code', '--redirect-uri', 'https://a.example.com/"cb"#x'], app.env),
      /redirect URI "https:\/\/a\.example\.com\/\\"cb\\"#x" must not contain a fragment/);
    refused(await runKeyportInProcess(['client:create', '--name', 'X', '--grant', 'authorization_code', '--redirect-uri', 'https://a.example.com/cb', '--post-logout-redirect-uri', 'not a uri'], app.env),
      /post-logout redirect URI "not a uri" is not an absolute URI/);
  });
});
