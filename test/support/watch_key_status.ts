/**
 * `node dist/test/support/watch_key_status.js <DATABASE_URL> <key id>`: prints `ready` once
 * connected, then polls the key's row every millisecond and prints `revoked <epoch ms>` the moment
 * the database says the key is revoked, and exits. A process of its own, so that its clock reading
 * is not delayed by the load a test puts on its own event loop (revocation_window.security.test.ts).
 */
import { parseDatabaseUrl } from '../../src/config/database_url.js';
import { DEFAULT_DATABASE_LIMITS } from '../../src/config/config.js';
import { createDataSource } from '../../src/db/data_source.js';

const [url, keyId] = process.argv.slice(2);
if (!url || !keyId) throw new Error('usage: watch_key_status <DATABASE_URL> <key id>');
const dataSource = createDataSource(parseDatabaseUrl(url, process.cwd()), { limits: { ...DEFAULT_DATABASE_LIMITS, poolSize: 1 } });
await dataSource.initialize();
process.stdout.write('ready\n');
const deadline = Date.now() + 60_000;
while (Date.now() < deadline) {
  const [row] = await dataSource.query('SELECT status FROM api_keys WHERE id = ?', [keyId]) as Array<{ status: string }>;
  if (row?.status === 'revoked') {
    process.stdout.write(`revoked ${Date.now()}\n`);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
}
await dataSource.destroy();
