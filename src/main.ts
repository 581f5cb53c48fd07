import { constants as osConstants } from 'node:os';
import { loadConfig, type Config } from './config/config.js';
import { withEnvFile } from './config/env_file.js';
import { ConfigError } from './config/errors.js';
import { describeRedisTarget } from './config/redis_target.js';
import { createLogger } from './lib/logger.js';
import { startServer } from './server.js';

/** The process entry point: the only place that reads `process.env`. */
async function main(): Promise<void> {
  let config: Config;
  try {
    // A `.env` under the environment, as the CLI reads it: both must name the same database.
    const { env, cwd } = withEnvFile(process.env, process.cwd());
    config = loadConfig(env, cwd);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keyport: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, { logger });
  logger.info('keyport listening', { url: running.url, issuer: config.issuer, database: config.database.type, redis: config.redis ? describeRedisTarget(config.redis) : false });

  let stopping = false;
  const exit = (code: number): void => {
    // Let the logger's stream write the last lines first.
    setImmediate(() => process.exit(code));
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // The operator asked twice: stop now, whatever is still running.
      logger.warn('second signal: exiting at once', { signal });
      exit(128 + (osConstants.signals[signal] ?? 0));
      return;
    }
    stopping = true;
    logger.info('shutting down: draining', { signal, grace_ms: config.shutdownGraceMs });
    // Closing normally ends well within the grace (requests are bounded by REQUEST_TIMEOUT_MS, the
    // database by its timeouts); this is the last resort if something hangs anyway.
    const force = setTimeout(() => {
      logger.error('forced exit: shutdown took longer than SHUTDOWN_GRACE_MS', { grace_ms: config.shutdownGraceMs });
      exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    running.close().then((report) => {
      const level = report.cut > 0 ? 'warn' : 'info';
      logger.log(level, 'shut down', { in_flight_at_signal: report.inFlightAtStart, requests_cut: report.cut, drain_ms: report.ms, total_ms: report.totalMs });
      exit(0);
    }, (err: unknown) => {
      logger.error('shutdown failed', { err });
      exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`keyport: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
