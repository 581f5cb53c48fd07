import { expect } from 'chai';
import { hasBinaries, ProcessGroup, waitFor } from './support/processes.js';
import { SentinelDeployment } from './support/redis_deployments.js';
import { busCarries, limitHoldsWhileAway, limitIsShared, report, revocationReaches, rotationReaches, runFailover, startPair, type Pair } from './support/scenario.js';

/**
 * Issue 17 part 1, docs/scaling.md: two Keyport instances on a Sentinel-watched Redis (one master,
 * one replica, three sentinels, Debian's redis-server on private ports) share limits, revocations
 * and signing-key rotations before, during and after the master dies and Sentinel promotes the replica.
 */
describe('topology: Redis Sentinel (master + replica + 3 sentinels), two instances', function () {
  this.timeout(60_000);
  const group = new ProcessGroup();
  let deployment: SentinelDeployment;
  let pair: Pair;

  before(async function () {
    if (!hasBinaries('redis-server')) {
      if (process.env.CI === 'true') throw new Error('redis-server is required under CI=true');
      console.log('    (skipped: needs Debian\'s redis-server)');
      this.skip();
    }
    deployment = await SentinelDeployment.start(group);
    pair = await startPair(deployment.env);
  });
  after(async () => {
    await pair?.close();
    await group.stopAll();
  });

  it('connects through the sentinels and shares limits, revocations and rotations', async () => {
    expect(pair.a.services.redis?.status).to.equal('ready');
    expect(pair.a.services.rateLimits.status()).to.include({ backend: 'redis', degraded: false });
    await busCarries(pair, 5_000);
    await limitIsShared(pair);
    const { keyMs, tokenMs } = await revocationReaches(pair, 'a', 1_000);
    expect(Math.max(keyMs, tokenMs)).to.be.below(1_000);
    expect(await rotationReaches(pair, 2_000)).to.be.below(2_000);
  });

  it('loses no revocation and no request while Sentinel promotes the replica, and shares state again after', async () => {
    const before = await deployment.currentMasterPort();
    const figures = await runFailover(pair, 'sentinel', async () => { await deployment.killMaster(); }, async () => {
      await waitFor('Sentinel to promote the replica', async () => (await deployment.currentMasterPort()) !== before, 30_000, 100);
    }, () => limitHoldsWhileAway(pair, 1_000));
    report(figures);
    expect(await deployment.currentMasterPort()).to.equal(deployment.replica.port);
    // Refused within the sweeps' bound while Redis switched, at bus speed after.
    expect(figures.revokedDuringKeyMs).to.be.below(2_000);
    expect(figures.revokedDuringTokenMs).to.be.below(2_000);
    expect(figures.revokedAfterKeyMs).to.be.below(1_000);
    expect(figures.requestsLost).to.equal(0);
    // After: the shared counter and the rotation work through the new master.
    await limitIsShared(pair);
    await rotationReaches(pair, 2_000);
  });
});
