import { expect } from 'chai';
import { TEST_SECRET, freePort } from '../support/app.js';
import { runKeyport } from '../support/cli.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/database.js';
import { randomPrefix, sharedRedis } from '../ratelimit/support.js';

describe('the CLI with REDIS_URL', function () {
  this.timeout(60_000);
  let database: ScratchDatabase;
  before(async () => { database = await createScratchDatabase({ schema: 'empty' }); });
  after(async () => { await database.drop(); });

  const env = (redisUrl: string) => ({ KEYPORT_SECRET: TEST_SECRET, DATA_DIR: database.dir, DATABASE_URL: database.url, REDIS_URL: redisUrl, REDIS_PREFIX: randomPrefix() });

  it('connects, runs and exits cleanly, with stdout left to the JSON answer', async function () {
    const redis = await sharedRedis();
    if (!redis) this.skip();
    try {
      const started = Date.now();
      const result = await runKeyport(['migrate', '--json'], env(redis!.url));
      expect(result.code, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout)).to.have.property('applied').that.is.an('array');
      expect(Date.now() - started).to.be.below(15_000);
    } finally {
      await redis?.stop();
    }
  });

  it('does not hang when Redis is unreachable', async () => {
    const port = await freePort();
    const started = Date.now();
    const result = await runKeyport(['migrate', '--json'], env(`redis://127.0.0.1:${port}`));
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.have.property('applied');
    expect(result.stderr).to.match(/redis: not reachable/);
    expect(Date.now() - started).to.be.below(15_000);
  });
});
