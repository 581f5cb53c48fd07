import { expect } from 'chai';
import { parseBenchCpu, parseMix, plan, type ScenarioCost } from '../../bench/capacity.js';

const TABLE = `| scenario | server | req/s | p50 ms | p99 ms | errors | CPU µs/req (loop) | peak RSS MB | × bare | target | verdict |
|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|
| 1 client credentials, JWT (ES256) | keyport sqlite | 2,665 | 9.85 | 46.6 | 0 | 457 (339) | 147 | 0.92 | x | pass |
| 1 client credentials, JWT (ES256) | keyport mysql | 2,345 | 11.3 | 46.3 | 0 | 1,506 (391) | 148 | 0.81 | x | pass |
| 6a introspection of a JWT (client-credentials token) | keyport mysql | 6,869 | 4.26 | 10.6 | 0 | 143 (140) | 167 | 1.43 | x | pass |`;

const cost = (id: string, loopUs: number, sql: number, calls: number): ScenarioCost => ({ id, title: id, cpuUs: loopUs * 1.2, loopUs, sqlPerRequest: sql, redisPerRequest: calls * 4, redisRoundTripsPerRequest: calls });

/** bench/capacity.ts, docs/scaling.md "Capacity model". */
describe('capacity model', () => {
  it('reads the CPU columns of one server from the bench table', () => {
    const rows = parseBenchCpu(TABLE, 'keyport mysql');
    expect([...rows.keys()]).to.deep.equal(['1', '6a']);
    expect(rows.get('1')).to.include({ cpuUs: 1506, loopUs: 391 });
    expect(rows.get('6a')).to.deep.equal({ title: 'introspection of a JWT (client-credentials token)', cpuUs: 143, loopUs: 140 });
  });

  it('normalises a mix and maps names to scenarios', () => {
    expect([...parseMix('login:2,introspect:6,cc:2')]).to.deep.equal([['3', 0.2], ['6a', 0.6], ['1', 0.2]]);
    expect(() => parseMix('login:0')).to.throw(/positive share/);
    expect(() => parseMix('')).to.throw(/empty/);
  });

  it('sizes instances by the event loop and the shared tiers by their per-request load', () => {
    const costs = new Map([['3', cost('3', 500, 0.8, 4)], ['6a', cost('6a', 100, 0, 0)]]);
    const result = plan(20_000, parseMix('3:0.5,6a:0.5'), costs, { targetUtilisation: 0.5, dbQps: 10_000, redisOps: 50_000 });
    expect(result.perRequest.loopUs).to.equal(300);
    // 20,000 × 300 µs = 6 event loops busy, at 50 % → 12 instances; 6 per 10k.
    expect(result.instances).to.equal(12);
    expect(result.instancesPer10k).to.equal(6);
    expect(result.dbQps).to.equal(8_000);
    expect(result.saturatesAt.database).to.equal(25_000);
    expect(result.saturatesAt.redisMaster).to.equal(25_000);
    expect(result.redisMasters).to.equal(2);
    expect(() => plan(1, parseMix('7:1'), costs)).to.throw(/no measurement for scenario 7/);
  });
});
