import FakeTimers from '@sinonjs/fake-timers';
import { expect } from 'chai';
import { Writable } from 'node:stream';
import winston from 'winston';
import { RepeatedLogGate } from '../../src/lib/log_flood.js';
import { createLogger } from '../../src/lib/logger.js';
import { startTestApp } from '../support/app.js';
import { serveWithRoutes, sleep } from '../ratelimit/support.js';

function sink(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({ write(chunk, _enc, done) { for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>); done(); } });
  return { stream, lines };
}

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' });

describe('resilience: log flood control', () => {
  it('writes a repeated warning or error once, each kind on its own, and never holds back other levels', async () => {
    const { stream, lines } = sink();
    const logger = createLogger('http', stream);
    for (let i = 0; i < 50; i += 1) logger.error('request failed', { request_id: `req_${i}`, err: refused() });
    logger.error('request failed', { err: Object.assign(new Error('Query inactivity timeout'), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' }) });
    for (let i = 0; i < 5; i += 1) logger.warn('key change sweep failed', { err: refused() });
    for (let i = 0; i < 20; i += 1) logger.http('request', { status: 503 });
    await sleep(10);
    expect(lines.filter((line) => line.message === 'request failed')).to.have.length(2);
    expect(lines.filter((line) => line.message === 'key change sweep failed')).to.have.length(1);
    expect(lines.filter((line) => line.message === 'request')).to.have.length(20);
    expect(lines[0]).to.include({ level: 'error', request_id: 'req_0' });
  });

  it('ends each interval with one line that carries the count, then writes the next occurrence in full', async () => {
    // The gate's intervals run on performance.now() and a timer: both fake, moved by hand.
    const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const { stream, lines } = sink();
      const gate = new RepeatedLogGate(100);
      const logger = winston.createLogger({ level: 'info', format: winston.format.combine(gate.format(), winston.format.json()), transports: [new winston.transports.Stream({ stream })] });
      gate.attach(logger);
      for (let i = 0; i < 20; i += 1) logger.error('request failed', { request_id: `req_${i}`, err: { code: 'ECONNREFUSED', message: 'refused' } });
      await clock.tickAsync(30);
      expect(lines).to.have.length(1);
      await clock.tickAsync(150);
      expect(lines).to.have.length(2);
      expect(lines[1]).to.include({ level: 'error', message: 'request failed', repeated: 19, interval_s: 0.1, request_id: 'req_19' });
      await clock.tickAsync(150);
      logger.error('request failed', { request_id: 'req_later', err: { code: 'ECONNREFUSED', message: 'refused' } });
      await clock.tickAsync(10);
      expect(lines).to.have.length(3);
      expect(lines[2]).to.include({ request_id: 'req_later' });
      expect(lines[2]!.repeated).to.equal(undefined);
    } finally {
      clock.uninstall();
    }
  });

  it('keeps the stack of an outage error at debug level', async function () {
    this.timeout(20_000);
    const app = await startTestApp({ env: { LOG_LEVEL: 'debug' } });
    const mounted = await serveWithRoutes(app.services, (router) => {
      router.get('/test/refused', async () => { throw refused(); });
    });
    try {
      await mounted.http().get('/test/refused').expect(503);
      const failure = app.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.message === 'request failed');
      expect(String(failure?.stack)).to.match(/ECONNREFUSED 127\.0\.0\.1:3306\n\s+at /);
    } finally {
      await mounted.close();
      await app.close();
    }
  });
});
