import { createRequire } from 'node:module';
import { expect } from 'chai';
import { OidcPayload } from '../../../src/db/entities/oidc_payload.js';
import { TokenRevocation } from '../../../src/db/entities/token_revocation.js';
import type { TestApp } from '../../support/app.js';
import { startOidcApp } from '../support.js';

describe('oidc: TypeORM adapter', () => {
  let app: TestApp;
  before(async () => { app = await startOidcApp(); });
  after(async () => { await app.close(); });

  const adapter = (model: string) => app.services.oidc.payloads.adapterFor(model);

  it('upserts: a second save of the same id replaces the payload (same on SQLite and MySQL)', async () => {
    const sessions = adapter('Session');
    await sessions.upsert('sess-1', { uid: 'uid-1', accountId: 'usr_a', kind: 'Session' }, 60);
    await sessions.upsert('sess-1', { uid: 'uid-2', accountId: 'usr_b', kind: 'Session' }, 60);
    expect(await sessions.find('sess-1')).to.deep.include({ uid: 'uid-2', accountId: 'usr_b' });
    expect(await sessions.findByUid('uid-2')).to.deep.include({ accountId: 'usr_b' });
    expect(await sessions.findByUid('uid-1')).to.equal(undefined);
    expect(await app.services.database.dataSource.getRepository(OidcPayload).countBy({ model: 'Session', id: 'sess-1' })).to.equal(1);
  });

  it('upserts of one event-loop turn (one statement) each land, and a row saved twice ends as the later save', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `batched-${i}`);
    await Promise.all([
      ...ids.map((id, i) => adapter(i % 2 ? 'Grant' : 'RefreshToken').upsert(id, { kind: i % 2 ? 'Grant' : 'RefreshToken', accountId: `usr_${i}`, grantId: 'g-batched' }, 60)),
      adapter('Session').upsert('batched-twice', { uid: 'first', accountId: 'usr_a', kind: 'Session' }, 60),
      adapter('Session').upsert('batched-twice', { uid: 'second', accountId: 'usr_b', kind: 'Session' }, 60),
    ]);
    for (const [i, id] of ids.entries()) {
      expect(await adapter(i % 2 ? 'Grant' : 'RefreshToken').find(id)).to.deep.include({ accountId: `usr_${i}` });
    }
    expect(await adapter('Session').find('batched-twice')).to.deep.include({ uid: 'second', accountId: 'usr_b' });
    expect(await adapter('Session').findByUid('first')).to.equal(undefined);
    // Grant-bound rows keep their grant id column: the family still dies together.
    await adapter('RefreshToken').revokeByGrantId('g-batched');
    expect(await adapter('RefreshToken').find('batched-0')).to.equal(undefined);
  });

  it('keeps models apart even with the same id', async () => {
    await adapter('Grant').upsert('same-id', { accountId: 'usr_a', kind: 'Grant' }, 60);
    await adapter('Interaction').upsert('same-id', { uid: 'x', kind: 'Interaction' }, 60);
    expect(await adapter('Grant').find('same-id')).to.have.property('kind', 'Grant');
    expect(await adapter('Interaction').find('same-id')).to.have.property('kind', 'Interaction');
  });

  it('honours expiry on read (beyond the engine clock tolerance) and deletes expired rows in the clean-up', async () => {
    const codes = adapter('AuthorizationCode');
    await codes.upsert('code-expired', { kind: 'AuthorizationCode', grantId: 'g-exp' }, 1);
    // The row is stored under the keyed hash of the code (see hashed_ids.security.test.ts).
    const rowId = app.services.oidc.payloads.rowId('AuthorizationCode', 'code-expired');
    await app.services.database.dataSource.getRepository(OidcPayload).update({ model: 'AuthorizationCode', id: rowId }, { expiresAt: new Date(Date.now() - 1000) });
    expect(await codes.find('code-expired')).to.equal(undefined);
    const { payloads } = await app.services.oidc.cleanup();
    expect(payloads).to.be.at.least(1);
    expect(await app.services.database.dataSource.getRepository(OidcPayload).countBy({ id: rowId })).to.equal(0);
  });

  it('marks consumption and reports it on read', async () => {
    const tokens = adapter('RefreshToken');
    await tokens.upsert('rt-1', { kind: 'RefreshToken', grantId: 'g-1' }, 60);
    expect(await tokens.find('rt-1')).not.to.have.property('consumed');
    await tokens.consume('rt-1');
    expect((await tokens.find('rt-1'))?.consumed).to.be.a('number');
  });

  it('finds device codes by user code and destroys by id', async () => {
    const devices = adapter('DeviceCode');
    await devices.upsert('dc-1', { kind: 'DeviceCode', userCode: 'ABCD-EFGH' }, 60);
    expect(await devices.findByUserCode('ABCD-EFGH')).to.have.property('kind', 'DeviceCode');
    await devices.destroy('dc-1');
    expect(await devices.find('dc-1')).to.equal(undefined);
    expect(await devices.findByUserCode('ABCD-EFGH')).to.equal(undefined);
  });

  it('revokes by grant id: that grant\'s rows go, others stay, and JWTs of the grant are registered as revoked', async () => {
    await adapter('AccessToken').upsert('at-g2', { kind: 'AccessToken', grantId: 'g-2' }, 60);
    await adapter('RefreshToken').upsert('rt-g2', { kind: 'RefreshToken', grantId: 'g-2' }, 60);
    await adapter('RefreshToken').upsert('rt-g3', { kind: 'RefreshToken', grantId: 'g-3' }, 60);
    await Promise.all(['AccessToken', 'RefreshToken', 'AuthorizationCode'].map((model) => adapter(model).revokeByGrantId('g-2')));
    expect(await adapter('AccessToken').find('at-g2')).to.equal(undefined);
    expect(await adapter('RefreshToken').find('rt-g2')).to.equal(undefined);
    expect(await adapter('RefreshToken').find('rt-g3')).not.to.equal(undefined);
    const registered = await app.services.database.dataSource.getRepository(TokenRevocation).findOneBy({ kind: 'grant', value: 'g-2' });
    expect(registered).not.to.equal(null);
    expect(await app.services.oidc.revocations.isRevoked([{ kind: 'grant', value: 'g-2' }], Math.floor(Date.now() / 1000) - 10)).to.equal(true);
    // A token issued after the revocation instant (e.g. a later consent reusing the grant) is not affected.
    expect(await app.services.oidc.revocations.isRevoked([{ kind: 'grant', value: 'g-2' }], Math.floor(Date.now() / 1000) + 5)).to.equal(false);
  });

  it('a row read before is read afresh after another connection changed it (SQLite remembers reads between writes)', async () => {
    const tokens = adapter('AccessToken');
    await tokens.upsert('elsewhere-1', { kind: 'AccessToken', accountId: 'usr_a' }, 60);
    await tokens.upsert('elsewhere-2', { kind: 'AccessToken', accountId: 'usr_b' }, 60);
    expect(await tokens.find('elsewhere-1')).to.deep.include({ accountId: 'usr_a' });
    expect(await tokens.find('elsewhere-2')).to.deep.include({ accountId: 'usr_b' });
    const { dataSource } = app.services.database;
    const rowId = (id: string) => app.services.oidc.payloads.rowId('AccessToken', id);
    if (dataSource.options.type === 'better-sqlite3') {
      // A second handle on the file, as the CLI or another instance would have.
      const Sqlite = createRequire(import.meta.url)('better-sqlite3') as new (file: string) => { prepare(sql: string): { run(...values: unknown[]): unknown }; close(): void };
      const other = new Sqlite(dataSource.options.database as string);
      try {
        other.prepare('DELETE FROM oidc_payloads WHERE model = ? AND id = ?').run('AccessToken', rowId('elsewhere-1'));
        other.prepare('UPDATE oidc_payloads SET consumedAt = ? WHERE model = ? AND id = ?').run('2020-01-01 00:00:00.000', 'AccessToken', rowId('elsewhere-2'));
      } finally {
        other.close();
      }
    } else {
      await dataSource.query('DELETE FROM oidc_payloads WHERE model = ? AND id = ?', ['AccessToken', rowId('elsewhere-1')]);
      await dataSource.query('UPDATE oidc_payloads SET consumedAt = ? WHERE model = ? AND id = ?', [new Date('2020-01-01T00:00:00Z'), 'AccessToken', rowId('elsewhere-2')]);
    }
    // The change counter is read once per event-loop turn (Database.changeCounter): a request arrives in a later one.
    await new Promise((resolve) => setImmediate(resolve));
    expect(await tokens.find('elsewhere-1')).to.equal(undefined);
    expect((await tokens.find('elsewhere-2'))?.consumed).to.be.a('number');
  });

  it('treats ids that cannot be ours as unknown instead of failing', async () => {
    expect(await adapter('AccessToken').find('x'.repeat(500))).to.equal(undefined);
    expect(await adapter('Session').findByUid('y'.repeat(500))).to.equal(undefined);
  });
});
