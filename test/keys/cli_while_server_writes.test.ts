import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/app.js';
import { runKeyportInProcess, type CliResult } from '../support/cli.js';
import { until } from '../support/until.js';

function stdoutJson<T>(result: CliResult): T {
  expect(result.code, result.stderr).to.equal(0);
  return JSON.parse(result.stdout) as T;
}

/**
 * An operator's CLI command against the database a busy server is writing to. On SQLite both are
 * writers of one file: a command that reads and then writes (key:rotate reads the agent, then
 * writes two keys) used to fail with `database is locked` most of the time under a login load, as
 * its deferred transaction could not upgrade past the server's commits
 * (src/db/sqlite_write_transactions.ts). On MySQL it exercises the same commands against a pool.
 */
describe('CLI commands while the server writes to the same database', function () {
  this.timeout(60_000);
  let app: TestApp;
  let loading = false;
  let load: Promise<void>[] = [];
  let logins = 0;
  const failures: string[] = [];

  before(async () => {
    app = await startTestApp({ env: { RATE_LIMIT_DISABLED: 'true' } });
  });
  after(async () => {
    loading = false;
    await Promise.all(load);
    await app.close();
  });

  it('key:rotate succeeds every time during a stream of new-session logins (each a write)', async () => {
    const loader = stdoutJson<{ api_key: string }>(await runKeyportInProcess(['agent:create', '--name', 'loader', '--scopes', 'read', '--json'], app.env));
    const agent = stdoutJson<{ agent: { id: string } }>(await runKeyportInProcess(['agent:create', '--name', 'rotated', '--scopes', 'read', '--json'], app.env)).agent.id;
    let keyId = stdoutJson<{ key: { id: string } }>(await runKeyportInProcess(['key:create', '--agent', agent, '--scopes', 'read', '--json'], app.env)).key.id;

    loading = true;
    load = Array.from({ length: 8 }, async (_, worker) => {
      while (loading) {
        const response = await fetch(`${app.url}/auth/login`, {
          method: 'POST',
          headers: { authorization: `Bearer ${loader.api_key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ session_id: `load-${worker}-${logins}` }),
        });
        await response.arrayBuffer();
        if (response.status === 200) logins += 1;
        else failures.push(`login ${response.status}`);
      }
    });
    while (logins < 50) await new Promise((resolve) => setTimeout(resolve, 20));

    for (let round = 0; round < 5; round += 1) {
      const rotated = stdoutJson<{ key: { id: string }; previous_key: { id: string; replaced_by: string } }>(
        await runKeyportInProcess(['key:rotate', keyId, '--grace', '1h', '--json'], app.env),
      );
      expect(rotated.previous_key.id).to.equal(keyId);
      expect(rotated.previous_key.replaced_by).to.equal(rotated.key.id);
      keyId = rotated.key.id;
    }
    // The logins went on all along (a login waits for a command's transaction, synchronously, so how
    // many land during each command depends on the machine); and no command left the file locked.
    const after = logins;
    await until('a login after the last command', () => logins > after, 10_000);
    loading = false;
    await Promise.all(load);
    expect(failures).to.deep.equal([]);
  });
});
