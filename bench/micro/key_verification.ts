/**
 * Micro-benchmark of API-key verification in one process (one core): a cached key, a cached key
 * with an IP allow list, a malformed key (refused before any lookup), and an uncached key read
 * from SQLite on every verification.
 *
 *   npm run build && node dist/bench/micro/key_verification.js [--seconds 2] [--json]
 *
 * Target: ≥ 20 000 verifications per second per core for a cached key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { Database } from '../../src/db/database.js';
import { buildKeyServices, type KeyServices } from '../../src/keys/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { buildServices, closeServices } from '../../src/service_container.js';
import { argument } from './argv.js';

interface Result {
  name: string;
  ops: number;
  seconds: number;
  perSecond: number;
  meanMicros: number;
}

/** Runs `verify` back to back for `seconds` (after a short warm-up) and counts. */
async function measure(name: string, seconds: number, verify: () => Promise<boolean>): Promise<Result> {
  for (let i = 0; i < 500; i += 1) if (!(await verify())) throw new Error(`${name}: unexpected verification result during warm-up`);
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const started = process.hrtime.bigint();
  let ops = 0;
  let now = started;
  while (now < deadline) {
    // Check the clock every 100 calls so timing does not dominate the cheap cases.
    for (let i = 0; i < 100; i += 1) {
      if (!(await verify())) throw new Error(`${name}: unexpected verification result`);
    }
    ops += 100;
    now = process.hrtime.bigint();
  }
  const elapsed = Number(now - started) / 1e9;
  return { name, ops, seconds: elapsed, perSecond: Math.round(ops / elapsed), meanMicros: Math.round((elapsed / ops) * 1e6 * 100) / 100 };
}

async function main(): Promise<void> {
  const seconds = Number(argument('--seconds') ?? 2);
  const dir = mkdtempSync(join(tmpdir(), 'keyport-bench-'));
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`, KEYPORT_SECRET: 'benchmark-secret-0123456789-abcdefghijklmnop', LOG_LEVEL: 'warn' });
  const logger = createLogger('warn', process.stderr);
  const database = await Database.open(config.database, logger, { secret: config.secret });
  const services = await buildServices(config, logger, database, { processMetrics: false });
  // A second set of key services on the same database with the cache off: every verification reads SQLite.
  const uncached: KeyServices = buildKeyServices({ config, logger, database, audit: services.audit, bus: services.bus, cacheTtlMs: 0 });
  try {
    const actor = { actor: 'bench' };
    const plain = await services.keys.agents.createWithKey({ name: 'bench', key: { scopes: 'read,write' } }, actor);
    const fenced = await services.keys.agents.createWithKey({ name: 'bench-fenced', key: { ipAllowList: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] } }, actor);
    const malformed = 'ak_live_thisIsNotAValidKey';
    const verifier = services.keys.verifier;

    const results = [
      await measure('cached key', seconds, async () => (await verifier.verify(plain.apiKey, '127.0.0.1')).ok),
      await measure('cached key + IP allow list', seconds, async () => (await verifier.verify(fenced.apiKey, '10.1.2.3')).ok),
      await measure('malformed key (no lookup)', seconds, async () => !(await verifier.verify(malformed, '127.0.0.1')).ok),
      await measure('uncached key (SQLite read)', seconds, async () => (await uncached.verifier.verify(plain.apiKey, '127.0.0.1')).ok),
    ];

    if (process.argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify({ benchmark: 'key_verification', node: process.version, results })}\n`);
    } else {
      process.stdout.write(`key verification, one process, node ${process.version}, ${seconds} s per case\n\n`);
      for (const result of results) {
        process.stdout.write(`${result.name.padEnd(30)} ${String(result.perSecond).padStart(9)} /s   ${String(result.meanMicros).padStart(8)} µs mean   (${result.ops} ops)\n`);
      }
      const cached = results[0]!.perSecond;
      process.stdout.write(`\ncached key: ${cached >= 20_000 ? 'meets' : 'MISSES'} the target of 20 000/s per core\n`);
    }
  } finally {
    await uncached.close();
    await closeServices(services);
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`key_verification benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
