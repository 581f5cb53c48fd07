import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { buildApp } from './app.js';
import type { Config } from './config/config.js';
import { Database } from './db/database.js';
import { ConnectionDrain, type DrainReport } from './http/drain.js';
import { answerMalformedRequests } from './http/client_errors.js';
import type { Clock } from './lib/clock.js';
import { createLogger, type Logger } from './lib/logger.js';
import { buildServices, closeServices, type Services } from './service_container.js';

export interface ShutdownReport extends DrainReport {
  /** From the start of the drain until pools were closed and buffers flushed. */
  readonly totalMs: number;
}

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  readonly services: Services;
  /**
   * Graceful shutdown (docs/reference.md §9): readiness off and `Connection: close` on every answer, stop
   * accepting, close idle keep-alive connections, let the requests in flight finish, then close
   * the services (usage flushed, pools and Redis closed) and the database. Requests still running
   * `SHUTDOWN_CLOSE_RESERVE_MS` before SHUTDOWN_GRACE_MS ends are cut, so the closing has its time.
   */
  close(): Promise<ShutdownReport>;
}

/** The part of SHUTDOWN_GRACE_MS kept for closing services and pools after the requests are done. */
export const SHUTDOWN_CLOSE_RESERVE_MS = 2000;

export interface StartOptions {
  logger?: Logger;
  /** Tests run several instances in one process; process-wide metrics would clash. */
  processMetrics?: boolean;
  /** Where the services take "now" from (default: the system clock); tests may move it. */
  clock?: Clock;
}

/** Opens the database (running migrations), builds the services and the app, and listens. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const database = await Database.open(config.database, logger, { limits: config.databaseLimits, secret: config.secret, warm: true });
  let services: Services | undefined;
  try {
    services = await buildServices(config, logger, database, { processMetrics: options.processMetrics, clock: options.clock });
    // The engine starts before the port opens (first signing key on a fresh database), so the
    // first request never races it.
    await services.oidc.ready();
    const app = buildApp(services);
    const handler = app.callback();
    const server = config.tls
      ? createHttpsServer({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }, handler)
      : createHttpServer(handler);
    answerMalformedRequests(server);
    // Behind a load balancer keep-alive must outlast the balancer's idle timeout.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    const drain = new ConnectionDrain(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => { server.off('error', reject); resolve(); });
    });
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;
    const running = services;

    let closing: Promise<ShutdownReport> | undefined;
    const close = (): Promise<ShutdownReport> => {
      closing ??= (async () => {
        const started = performance.now();
        running.lifecycle.beginDrain();
        const drained = await drain.drain(Math.max(0, config.shutdownGraceMs - SHUTDOWN_CLOSE_RESERVE_MS));
        await closeServices(running);
        await database.close();
        return { ...drained, totalMs: Math.round(performance.now() - started) };
      })();
      return closing;
    };
    return { url, server, services: running, close };
  } catch (err) {
    if (services) await closeServices(services);
    await database.close();
    throw err;
  }
}
