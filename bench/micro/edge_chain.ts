/**
 * What Keyport's edge (src/app.ts `edgeSteps`: request ID, metrics, access log, security headers,
 * error handler, request budget, HTTPS, CORS, target check, body parsing) costs a request, apart
 * from the engine: a koa server whose only handler answers a token-sized JSON body, with and
 * without the edge in front, each in its own process, loaded by autocannon from this one.
 *
 *   npm run build && node dist/bench/micro/edge_chain.js [--rounds 3] [--duration 6] [--path /oauth/token]
 *
 * Per request: the server process's CPU (all threads, and the event loop alone) over the measured
 * window, read from /proc as `npm run bench` does. Rounds alternate which server goes first; each
 * variant gets a new process every round.
 *
 * Measured on the shared 2-core VM (2026-12-03, `/oauth/token`, 32 connections, medians of 5
 * rounds): the handler alone 45 µs, with the edge in front 68 µs, so the edge costs ~15–25 µs a
 * request (three runs: 16, 22 and ~20 µs). An earlier scratch run put the first four steps
 * (request ID to security headers) at ~9 µs of it and the other four at 2–4 µs. Since 6d9625c the
 * edge holds an answer ready within its request's turn until the turn's end
 * (src/http/edge/turn_end_answers.ts), and this handler's answer is one: with the load generator
 * on the same host that makes the edge variant the cheaper one (docs/benchmarks.md, "Answers at
 * the end of the turn"), so the difference no longer isolates the steps' own cost.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { edgeSteps } from '../../src/app.js';
import { createLogger } from '../../src/lib/logger.js';
import { Metrics } from '../../src/lib/metrics.js';
import { measureLoad } from '../lib/load.js';
import { argument } from './argv.js';
import { median } from '../lib/stats.js';

type Variant = 'handler alone' | 'edge + handler';
const VARIANTS: readonly Variant[] = ['handler alone', 'edge + handler'];

/** The child: one server on a free port, which it reports to the parent. */
async function serve(variant: Variant): Promise<void> {
  const app = new Koa();
  app.silent = true;
  // Only what the edge steps read; the engine and the database are not here.
  Object.assign(app.context, {
    services: {
      config: { requestTimeoutMs: 5000, requireHttps: false, corsOrigins: [] },
      logger: createLogger('info'),
      metrics: new Metrics({ processMetrics: false }),
      database: { health: { observe() {} } },
    },
  });
  if (variant === 'edge + handler') for (const step of edgeSteps()) app.use(step as Koa.Middleware);
  const token = { access_token: 'x'.repeat(400), token_type: 'Bearer', expires_in: 3600 };
  app.use(async (ctx) => {
    await null;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = token;
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send!({ port: (server.address() as AddressInfo).port });
}

async function started(variant: Variant): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', variant]);
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  return { child, port };
}

async function measure(): Promise<void> {
  const rounds = Number(argument('--rounds') ?? 3);
  const duration = Number(argument('--duration') ?? 6);
  const path = argument('--path') ?? '/oauth/token';
  const results = new Map<Variant, Array<{ total: number; eventLoop: number }>>(VARIANTS.map((variant) => [variant, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      const { child, port } = await started(variant);
      const request = { method: 'POST' as const, path, body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
      const measured = await measureLoad({ url: `http://127.0.0.1:${port}`, connections: 32, requests: [request] }, duration, 1, child.pid);
      child.kill();
      const cpu = measured.cpuPerRequest!;
      results.get(variant)!.push(cpu);
      process.stdout.write(`round ${round + 1} ${variant}: ${Math.round(measured.perSecond)}/s, ${cpu.total.toFixed(1)} µs CPU a request (event loop ${cpu.eventLoop.toFixed(1)})\n`);
    }
  }
  const alone = median(results.get('handler alone')!.map(({ total }) => total));
  const withEdge = median(results.get('edge + handler')!.map(({ total }) => total));
  process.stdout.write(`medians: handler alone ${alone.toFixed(1)} µs, edge + handler ${withEdge.toFixed(1)} µs; the edge ${(withEdge - alone).toFixed(1)} µs a request\n`);
}

const serving = argument('--serve');
if (serving) await serve(serving as Variant);
else await measure();
