import winston from 'winston';
import { redact } from './redact.js';

export type Logger = winston.Logger;

/** Every entry goes through redaction, whatever the call site passed in. */
const redactSecrets = winston.format((info) => {
  const cleaned = redact({ ...info }) as winston.Logform.TransformableInfo;
  for (const key of Object.keys(info)) delete (info as Record<string, unknown>)[key];
  return Object.assign(info, cleaned);
});

/** JSON lines on stdout (or the given stream, for tests). */
export function createLogger(level: string, stream: NodeJS.WritableStream = process.stdout): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(redactSecrets(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
}
