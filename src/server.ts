import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app.js';
import type { Config } from './config/config.js';
import { Database } from './db/database.js';
import { answerMalformedRequests } from './http/client_errors.js';
import { createLogger, type Logger } from './lib/logger.js';
import { buildServices, closeServices, type Services } from './services.js';

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  readonly services: Services;
  /** Graceful: stop accepting, let in-flight requests finish, then close pools. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Tests run several instances in one process; process-wide metrics would clash. */
  processMetrics?: boolean;
}

/** Opens the database (running migrations), builds the services and the app, and listens. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const database = await Database.open(config.database, logger);
  let services: Services | undefined;
  try {
    services = await buildServices(config, logger, database, { processMetrics: options.processMetrics });
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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => { server.off('error', reject); resolve(); });
    });
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;
    const running = services;

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await closeServices(running);
        await database.close();
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
