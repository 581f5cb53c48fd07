import { loadConfig } from './config/config.js';
import { ConfigError } from './config/errors.js';
import { createLogger } from './lib/logger.js';
import { startServer } from './server.js';

/** The process entry point: the only place that reads `process.env`. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keyport: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, { logger });
  logger.info('keyport listening', { url: running.url, issuer: config.issuer, database: config.database.type, redis: Boolean(config.redisUrl) });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    // A stuck connection must not keep the process alive forever.
    const force = setTimeout(() => { logger.warn('forced exit after 25 s'); process.exit(1); }, 25_000);
    force.unref();
    running.close().then(() => process.exit(0), (err: unknown) => { logger.error('shutdown failed', { err }); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`keyport: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
