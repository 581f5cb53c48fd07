import { expect } from 'chai';
import { User } from '../../../src/db/entities/user.js';
import type { TestApp } from '../../support/app.js';
import { runKeyport } from '../../support/cli.js';
import { startOidcApp } from '../support.js';

describe('oidc: keyport user:create', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp(); });
  after(async () => { await app.close(); });

  it('creates a user with a bcrypt hash and the admin flag', async () => {
    const res = await runKeyport(['user:create', '--email', 'Grace@Example.com', '--password', 'a long enough password', '--admin', '--json'], app.env);
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
    const res = await runKeyport(['user:create', '--email', 'plain@example.com', '--password', 'another password', '--json'], app.env);
    expect(JSON.parse(res.stdout).user.is_admin).to.equal(false);
  });

  it('errors out clearly without --password when stdin is not a terminal', async () => {
    const res = await runKeyport(['user:create', '--email', 'nopass@example.com'], app.env, 'piped-password\n');
    expect(res.code).to.equal(1);
    expect(res.stderr).to.match(/no --password given and stdin is not a terminal/);
    expect(await app.services.oidc.users.findByEmail('nopass@example.com')).to.equal(undefined);
  });

  it('refuses duplicates, bad emails and weak or over-long passwords', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['user:create', '--email', 'grace@example.com', '--password', 'whatever password'], /already exists/],
      [['user:create', '--email', 'not-an-email', '--password', 'whatever password'], /email address is not valid/],
      [['user:create', '--email', 'short@example.com', '--password', 'short'], /at least 8 characters/],
      [['user:create', '--email', 'long@example.com', '--password', 'x'.repeat(73)], /at most 72 bytes/],
    ];
    for (const [args, message] of cases) {
      const res = await runKeyport(args, app.env);
      expect(res.code, args.join(' ')).to.equal(1);
      expect(res.stderr).to.match(message);
    }
  });

  it('lists users without their hashes', async () => {
    const res = await runKeyport(['user:list', '--json'], app.env);
    const { users } = JSON.parse(res.stdout);
    expect(users.map((user: { email: string }) => user.email)).to.include('grace@example.com');
    expect(res.stdout).not.to.include('$2');
  });
});
