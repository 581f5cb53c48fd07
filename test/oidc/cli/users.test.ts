import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { User } from '../../../src/db/entities/user.js';
import type { TestApp } from '../../support/app.js';
import { KEYPORT_BIN, runKeyport, runKeyportInProcess } from '../../support/cli.js';
import { startOidcApp } from '../support.js';

describe('oidc: keyport user:create', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp(); });
  after(async () => { await app.close(); });

  it('creates a user with a bcrypt hash and the admin flag', async () => {
    const res = await runKeyportInProcess(['user:create', '--email', 'Grace@Example.com', '--password', 'a long enough password', '--admin', '--json'], app.env);
    expect(res.code, res.stderr).to.equal(0);
    const { user } = JSON.parse(res.stdout);
    expect(user).to.include({ email: 'grace@example.com', is_admin: true });
    expect(user.id).to.match(/^usr_/);
    const row = await app.services.database.dataSource.getRepository(User).findOneByOrFail({ id: user.id });
    expect(row.passwordHash).to.match(/^\$2[aby]\$04\$/);
    expect(row.isAdmin).to.equal(true);
    expect(await app.services.oidc.users.verifyPassword('grace@example.com', 'a long enough password')).to.have.property('id', user.id);
    expect(await app.services.oidc.users.verifyPassword('grace@example.com', 'wrong password')).to.equal(undefined);
    expect(await app.services.oidc.users.verifyPassword('nobody@example.com', 'a long enough password')).to.equal(undefined);
    const actions = (await app.services.audit.list({ targetId: user.id })).map((event) => event.action);
    expect(actions).to.deep.equal(['user.created']);
    expect(JSON.stringify(await app.services.audit.list())).not.to.include('a long enough password');
  });

  it('is not an admin unless asked', async () => {
    const res = await runKeyportInProcess(['user:create', '--email', 'plain@example.com', '--password', 'another password', '--json'], app.env);
    expect(JSON.parse(res.stdout).user.is_admin).to.equal(false);
  });

  it('asks for the password (twice, without echo) when stdin is a terminal', async function askOnTerminal() {
    // `script` gives the command a pseudo-terminal; answers are typed when each prompt appears.
    if (spawnSync('script', ['--version']).status !== 0) this.skip();
    const command = `${process.execPath} ${KEYPORT_BIN} user:create --email typed@example.com --json`;
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH, ...app.env } as NodeJS.ProcessEnv });
    let output = '';
    let answered = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const prompts = (output.match(/[Pp]assword: /g) ?? []).length;
      if (prompts > answered) {
        answered = prompts;
        child.stdin.write('typed secret 123\r');
        if (answered === 2) child.stdin.end();
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, output).to.equal(0);
    expect(answered).to.equal(2);
    expect(output).not.to.include('typed secret 123');
    expect(await app.services.oidc.users.verifyPassword('typed@example.com', 'typed secret 123')).to.have.property('email', 'typed@example.com');
  });

  it('errors out clearly without --password when stdin is not a terminal', async () => {
    const res = await runKeyport(['user:create', '--email', 'nopass@example.com'], app.env, 'piped-password\n');
    expect(res.code).to.equal(1);
    expect(res.stderr).to.match(/no --password given and stdin is not a terminal/);
    expect(await app.services.oidc.users.findByEmail('nopass@example.com')).to.equal(undefined);
  });

  const badInput: Array<[string, string[], RegExp]> = [
    ['a duplicate email', ['user:create', '--email', 'grace@example.com', '--password', 'whatever password'], /already exists/],
    ['an invalid email', ['user:create', '--email', 'not-an-email', '--password', 'whatever password'], /email address is not valid/],
    ['a short password', ['user:create', '--email', 'short@example.com', '--password', 'short'], /at least 8 characters/],
    ['a password bcrypt would truncate', ['user:create', '--email', 'long@example.com', '--password', 'x'.repeat(73)], /at most 72 bytes/],
  ];
  for (const [label, args, message] of badInput) {
    it(`refuses ${label} with one line`, async () => {
      const res = await runKeyportInProcess(args, app.env);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.match(message);
    });
  }

  it('lists users without their hashes', async () => {
    const res = await runKeyportInProcess(['user:list', '--json'], app.env);
    const { users } = JSON.parse(res.stdout);
    expect(users.map((user: { email: string }) => user.email)).to.include('grace@example.com');
    expect(res.stdout).not.to.include('$2');
  });
});
