import winston from 'winston';
import { RepeatedLogGate } from './log_flood.js';
import { redact } from './redact.js';

export type Logger = winston.Logger;

/** Every entry goes through redaction, whatever the call site passed in. */
const redactSecrets = winston.format((info) => {
  const cleaned = redact({ ...info }) as winston.Logform.TransformableInfo;
  for (const key of Object.keys(info)) delete (info as Record<string, unknown>)[key];
  return Object.assign(info, cleaned);
});

/**
 * winston runs every entry through the format chain (here: a redacting copy, a timestamp and
 * JSON) and the stream machinery before the transport drops it for its level, so an access-log
 * line at the default level `info` cost as much as a written one on every request. The level
 * methods (`logger.http`, `logger.debug`, …) and `logger.log(level, …)` check the level first.
 */
function skipDisabledLevels(logger: Logger): Logger {
  const target = logger as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const level of Object.keys(logger.levels)) {
    const write = target[level];
    if (typeof write !== 'function') continue;
    target[level] = function logIfEnabled(this: unknown, ...args: unknown[]) {
      return logger.isLevelEnabled(level) ? write.apply(this ?? logger, args) : logger;
    };
  }
  const log = logger.log;
  target.log = function logIfEnabled(this: unknown, ...args: unknown[]) {
    const level = typeof args[0] === 'string' ? args[0] : (args[0] as { level?: unknown } | undefined)?.level;
    if (typeof level === 'string' && logger.levels[level] !== undefined && !logger.isLevelEnabled(level)) return logger;
    return (log as (...a: unknown[]) => unknown).apply(this ?? logger, args);
  };
  return logger;
}

/** JSON lines on stdout (or the given stream, for tests). */
export function createLogger(level: string, stream: NodeJS.WritableStream = process.stdout): Logger {
  // Repeated warnings and errors are counted, not written each time (src/lib/log_flood.ts).
  const repeats = new RepeatedLogGate();
  const logger = skipDisabledLevels(winston.createLogger({
    level,
    format: winston.format.combine(repeats.format(), redactSecrets(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  }));
  repeats.attach(logger);
  return logger;
}
