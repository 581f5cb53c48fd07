import { expect } from 'chai';
import type supertest from 'supertest';
import { renderUsageChart, tickLabel, Y_AXIS_LABEL, yScale } from '../../src/dashboard/usage_chart.js';
import type { HourlyUsage } from '../../src/dashboard/usage.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createAgentWithKey } from '../keys/helpers.js';
import { createUser, expectPage, signIn } from './helpers.js';

const day = (counts: Array<[number, number]>): HourlyUsage[] =>
  counts.map(([requests, rejections], index) => ({ hourStart: new Date(Date.UTC(2026, 0, 1, index)), requests, rejections }));

/** The rects of one bar (its <g>), by class: y and height. */
function barRects(svg: string, index: number): Record<string, { y: number; height: number }> {
  const group = svg.split('<g>')[index + 1]!.split('</g>')[0]!;
  const rects: Record<string, { y: number; height: number }> = {};
  for (const match of group.matchAll(/<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" class="([a-z]+)"\/>/g)) {
    rects[match[3]!] = { y: Number(match[1]), height: Number(match[2]) };
  }
  return rects;
}

/** Tick labels of the y-axis, bottom to top. */
const ticksOf = (svg: string): string[] => [...svg.matchAll(/<text [^>]*class="axis tick">([^<]*)<\/text>/g)].map((match) => match[1]!);

describe('dashboard: usage chart axes', () => {
  it('scales the y-axis to round numbers with at most four steps, whole requests only', () => {
    expect(yScale(0)).to.deep.equal({ top: 1, ticks: [0, 1] });
    expect(yScale(1)).to.deep.equal({ top: 1, ticks: [0, 1] });
    expect(yScale(3)).to.deep.equal({ top: 3, ticks: [0, 1, 2, 3] });
    expect(yScale(9)).to.deep.equal({ top: 10, ticks: [0, 5, 10] });
    expect(yScale(22)).to.deep.equal({ top: 30, ticks: [0, 10, 20, 30] });
    expect(yScale(100)).to.deep.equal({ top: 100, ticks: [0, 25, 50, 75, 100] });
    expect(yScale(1234)).to.deep.equal({ top: 1500, ticks: [0, 500, 1000, 1500] });
    for (const highest of [2, 7, 13, 99, 101, 4999, 123_456]) {
      const { top, ticks } = yScale(highest);
      expect(top, String(highest)).to.be.at.least(highest);
      expect(ticks.length, String(highest)).to.be.within(2, 5);
      expect(ticks.every(Number.isInteger), String(highest)).to.equal(true);
    }
    expect([950, 1200, 12_000, 1_500_000].map(tickLabel)).to.deep.equal(['950', '1,200', '12k', '1.5M']);
  });

  it('labels the y-axis "Requests per hour", with numbered ticks and grid lines', () => {
    const svg = renderUsageChart(day(Array.from({ length: 24 }, (_, i) => [i, 0] as [number, number])), { label: 'Requests per hour for ak_live_AbCd', width: 640, height: 180 });
    expect(Y_AXIS_LABEL).to.equal('Requests per hour');
    expect(svg).to.match(/<text x="11" y="[\d.]+" transform="rotate\(-90 11 [\d.]+\)" text-anchor="middle" class="axis axis-title">Requests per hour<\/text>/);
    expect(ticksOf(svg)).to.deep.equal(['0', '10', '20', '30']);
    expect((svg.match(/class="grid"/g) ?? []).length).to.equal(4);
    // Hour marks along the bottom, the last with its zone.
    expect(svg).to.include('>00:00</text>').and.include('>06:00</text>').and.include('>12:00</text>').and.include('>23:00 UTC</text>');
    // Ticks sit where a bar of that value ends: the 20-request bar's top is the "20" grid line.
    const gridAt20 = Number(/<line x1="[\d.]+" x2="640" y1="([\d.]+)" y2="[\d.]+" class="grid"\/><text [^>]*>20</.exec(svg)![1]);
    expect(barRects(svg, 20).requests!.y).to.be.closeTo(gridAt20, 0.11);
    // The bars start right of the gutter.
    expect(Number(/<rect x="([\d.]+)"/.exec(svg)![1])).to.be.greaterThan(30);
    expect(svg).not.to.match(/style=|<script/);
  });

  it('draws refused requests inside their bar (they were counted as requests too), not stacked on top', () => {
    const svg = renderUsageChart(day([[10, 0], [10, 4], [0, 2]]), { label: 'k', width: 300, height: 120 });
    const plain = barRects(svg, 0);
    const refused = barRects(svg, 1);
    // Same number of requests, same bar: the refused part is red, the rest blue.
    expect(refused.requests!.height + refused.rejections!.height).to.be.closeTo(plain.requests!.height, 0.11);
    expect(refused.rejections!.y).to.be.closeTo(plain.requests!.y, 0.11);
    expect(refused.rejections!.height / plain.requests!.height).to.be.closeTo(0.4, 0.02);
    // Refusals with no verification behind them (a refresh) still show.
    expect(barRects(svg, 2).rejections!.height).to.be.greaterThan(0);
    expect(svg).to.include('at most 10 in one hour');
    expect(ticksOf(svg)).to.deep.equal(['0', '5', '10']);
  });

  it('keeps small charts (the key table\'s sparklines) bare; quiet days get a 0–1 scale', () => {
    const hours = day(Array.from({ length: 24 }, () => [3, 0] as [number, number]));
    const spark = renderUsageChart(hours, { label: 'k', width: 144, height: 32 });
    expect(spark).not.to.include('axis-title');
    expect(ticksOf(spark)).to.deep.equal([]);
    expect(renderUsageChart(hours, { label: 'k', width: 144, height: 32, axes: true })).to.include('axis-title');
    const quiet = renderUsageChart(day(Array.from({ length: 24 }, () => [0, 0] as [number, number])), { label: 'k', width: 640, height: 180 });
    expect(ticksOf(quiet)).to.deep.equal(['0', '1']);
    expect(quiet).not.to.include('NaN');
  });
});

describe('dashboard: the key page\'s usage chart', () => {
  let app: TestApp;
  let browser: supertest.Agent;
  before(async () => {
    app = await startTestApp();
    browser = await signIn(app, await createUser(app));
  });
  after(async () => { await app.close(); });

  it('shows the chart with its axis; a key without traffic says how to make some', async () => {
    const quiet = await createAgentWithKey(app);
    const page = await browser.get(`/dashboard/keys/${quiet.key.id}`);
    expectPage(page, 200);
    expect(page.text).to.include('<svg class="usage-chart"').and.include('class="axis axis-title">Requests per hour</text>');
    expect(page.text).to.include('No requests with this key in the last 24 hours.').and.include(`${app.config.issuer}/auth/test`);
    expect(page.text).to.include('one bar per clock hour (UTC)');

    const busy = await createAgentWithKey(app);
    for (let i = 0; i < 12; i += 1) app.services.dashboard.usage.recordRequest(busy.key.id);
    app.services.dashboard.usage.recordRejection(busy.key.id);
    const used = await browser.get(`/dashboard/keys/${busy.key.id}`);
    expectPage(used, 200);
    expect(used.text).not.to.include('No requests with this key');
    expect(ticksOf(used.text)).to.deep.equal(['0', '5', '10', '15']);
    expect(used.text).to.include('12 requests and 1 rejected in the last 24 hours, at most 12 in one hour');
  });

  it('counts a request the rate limiter refused among the requests too (why the chart draws refusals inside the bar)', async () => {
    const limited = await createAgentWithKey(app, { rateLimit: { burst: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await app.http().get('/auth/test').set('X-API-Key', limited.apiKey)).status);
    expect(statuses).to.deep.equal([200, 200, 429, 429, 429]);
    expect((await app.services.dashboard.usage.summary(limited.key.id)).thisHour).to.deep.equal({ requests: 5, rejections: 3 });
  });
});
