import { expect } from 'chai';
import { KeyUsageHour } from '../../src/db/entities/key_usage_hour.js';
import { HOUR_MS, hourOf, KeyUsageCounter } from '../../src/dashboard/usage.js';
import { renderUsageChart } from '../../src/dashboard/usage_chart.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey } from '../keys/helpers.js';

describe('dashboard: per-key usage', () => {
  let app: TestApp;
  before(async () => { app = await startTestApp(); });
  after(async () => { await app.close(); });

  const rows = () => app.services.database.dataSource.getRepository(KeyUsageHour).find();
  const usage = () => app.services.dashboard.usage;

  it('counts every successful key verification, in memory first and in hourly rows after a flush', async () => {
    const created = await createAgentWithKey(app);
    for (let i = 0; i < 7; i += 1) await app.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
    // A refused request (a wrong key) counts for nobody.
    await app.http().get('/auth/test').set('X-API-Key', `${created.apiKey.slice(0, -1)}${created.apiKey.endsWith('x') ? 'y' : 'x'}`).expect(401);

    expect((await usage().summary(created.key.id)).thisHour.requests).to.equal(7);
    await usage().flush();
    const stored = (await rows()).filter((row) => row.keyId === created.key.id);
    expect(stored).to.have.length(1);
    expect(stored[0]).to.include({ requests: 7, rejections: 0 });
    expect(stored[0]!.hourStart.getTime()).to.equal(hourOf(Date.now()));
    // After the flush the summary reads the row, not memory: same answer.
    expect((await usage().summary(created.key.id)).thisHour.requests).to.equal(7);
  });

  it('counts a bucket whose flush is being written exactly once (in neither memory nor a row until it commits)', async () => {
    const created = await createAgentWithKey(app);
    for (let i = 0; i < 5; i += 1) usage().recordRequest(created.key.id);
    const flushing = usage().flush();
    const during = await usage().summary(created.key.id);
    await flushing;
    expect(during.thisHour.requests).to.equal(5);
    expect((await usage().summary(created.key.id)).thisHour.requests).to.equal(5);
  });

  it('adds later flushes to the same row and records rate-limit rejections (recordRejection)', async () => {
    const created = await createAgentWithKey(app);
    usage().recordRequest(created.key.id);
    await usage().flush();
    usage().recordRequest(created.key.id);
    usage().recordRequest(created.key.id);
    usage().recordRejection(created.key.id);
    usage().recordRejection(created.key.id);
    await usage().flush();
    const stored = (await rows()).filter((row) => row.keyId === created.key.id);
    expect(stored.map((row) => [row.requests, row.rejections])).to.deep.equal([[3, 2]]);
    const summary = await usage().summary(created.key.id);
    expect(summary.thisHour).to.deep.equal({ requests: 3, rejections: 2 });
    expect(summary.lastDay).to.deep.equal({ requests: 3, rejections: 2 });
  });

  it('adds up counts from several instances writing the same bucket', async () => {
    const created = await createAgentWithKey(app);
    const { dataSource } = app.services.database;
    // Eight at once, each creating the row if it is absent: every count lands in this one flush.
    const instances = Array.from({ length: 8 }, () => new KeyUsageCounter(dataSource, app.services.logger));
    instances.forEach((counter, index) => { for (let i = 0; i <= index; i += 1) counter.recordRequest(created.key.id); });
    await Promise.all(instances.map((counter) => counter.flush()));
    // Should a count miss this flush, the warning the counter logged says why.
    const warnings = app.logs.filter((line) => line.includes('key usage')).join('\n');
    expect((await usage().summary(created.key.id)).thisHour.requests, warnings).to.equal(36);
    for (const counter of instances) await counter.close();
  });

  it('keeps 24 hourly buckets ending with the current hour; older traffic falls out of the figures', async () => {
    const created = await createAgentWithKey(app);
    const now = Date.now();
    usage().recordRequest(created.key.id, now);
    usage().recordRequest(created.key.id, now - HOUR_MS);
    usage().recordRequest(created.key.id, now - HOUR_MS);
    usage().recordRequest(created.key.id, now - 23 * HOUR_MS);
    usage().recordRejection(created.key.id, now - 5 * HOUR_MS);
    usage().recordRequest(created.key.id, now - 24 * HOUR_MS);
    usage().recordRequest(created.key.id, now - 100 * HOUR_MS);
    await usage().flush();
    const summary = await usage().summary(created.key.id, now);
    expect(summary.hourly).to.have.length(24);
    expect(summary.hourly[23]!.hourStart.getTime()).to.equal(hourOf(now));
    expect(summary.hourly[0]!.hourStart.getTime()).to.equal(hourOf(now) - 23 * HOUR_MS);
    expect(summary.hourly.map((hour) => hour.requests)).to.deep.equal([1, ...Array(21).fill(0), 2, 1]);
    expect(summary.hourly[18]!.rejections).to.equal(1);
    expect(summary.thisHour).to.deep.equal({ requests: 1, rejections: 0 });
    expect(summary.lastDay).to.deep.equal({ requests: 4, rejections: 1 });
  });

  it('summarises many keys in one call, zeros for keys without traffic', async () => {
    const a = await createAgentWithKey(app);
    const b = await createAgentWithKey(app);
    usage().recordRequest(a.key.id);
    const summaries = await usage().summaries([a.key.id, b.key.id]);
    expect(summaries.get(a.key.id)!.lastDay.requests).to.equal(1);
    expect(summaries.get(b.key.id)!.lastDay).to.deep.equal({ requests: 0, rejections: 0 });
    expect(summaries.get(b.key.id)!.hourly).to.have.length(24);
  });

  it('writes what is pending when the services close (shutdown)', async () => {
    const other = await startTestApp();
    try {
      const created = await createAgentWithKey(other);
      await other.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
      await other.services.dashboard.close();
      const stored = await other.services.database.dataSource.getRepository(KeyUsageHour).findBy({ keyId: created.key.id });
      expect(stored.map((row) => row.requests)).to.deep.equal([1]);
    } finally {
      await other.close();
    }
  });

  it('never fails a verification over a throwing listener, and the other listeners still count', async () => {
    const created = await createAgentWithKey(app);
    const stop = app.services.keys.onVerified(() => { throw new Error('a broken listener'); });
    try {
      await app.http().get('/auth/test').set('X-API-Key', created.apiKey).expect(200);
    } finally {
      stop();
    }
    expect((await usage().summary(created.key.id)).thisHour.requests).to.equal(1);
  });
});

describe('dashboard: usage chart (SVG)', () => {
  const hours = Array.from({ length: 24 }, (_, index) => ({ hourStart: new Date(Date.UTC(2025, 0, 1, index)), requests: index === 23 ? 10 : index, rejections: index === 5 ? 3 : 0 }));

  it('draws one slot per hour, bars scaled to the busiest hour, rejections stacked in their own class', () => {
    const svg = renderUsageChart(hours, { label: 'Requests for ak_live_AbCd', width: 240, height: 64 });
    expect(svg).to.match(/^<svg class="usage-chart" xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 240 64"/);
    expect((svg.match(/class="slot"/g) ?? []).length).to.equal(24);
    expect((svg.match(/class="requests"/g) ?? []).length).to.equal(23); // hour 0 had none
    expect((svg.match(/class="rejections"/g) ?? []).length).to.equal(1);
    expect(svg).to.include('<title>23:00 UTC: 10 requests, 0 rejected</title>').and.include('<title>01:00 UTC: 1 request, 0 rejected</title>');
    expect(svg).to.include('role="img"').and.include('aria-label="Requests for ak_live_AbCd: 263 requests and 3 rejected in the last 24 hours, at most 22 in one hour"');
    expect(svg).not.to.match(/style=|<script/);
  });

  it('escapes its label and copes with no traffic at all', () => {
    const quiet = hours.map((hour) => ({ ...hour, requests: 0, rejections: 0 }));
    const svg = renderUsageChart(quiet, { label: 'a <b>"key"</b> & co' });
    expect(svg).to.include('a &lt;b&gt;&quot;key&quot;&lt;/b&gt; &amp; co: 0 requests and 0 rejected').and.include('at most 0 in one hour');
    expect(svg).not.to.include('class="requests"');
    expect(svg).not.to.include('NaN');
  });
});
