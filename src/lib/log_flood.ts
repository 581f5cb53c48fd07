import { performance } from 'node:perf_hooks';
import winston from 'winston';

/** Identical warnings and errors are written once per this interval, then summarised with a count. */
export const REPEAT_INTERVAL_MS = 10_000;
/** Kinds of message remembered at once; the oldest is forgotten beyond (its next line is written). */
const MAX_KINDS = 1000;

interface Kind {
  /**
   * When the current interval of this kind ends (`performance.now()`: the intervals only matter
   * inside this process, so they follow its monotonic clock, like the timer that ends them).
   */
  until: number;
  /** Lines of this kind dropped in the current interval. */
  dropped: number;
  /** The latest dropped line, written with the count at the end of the interval. */
  sample: winston.Logform.TransformableInfo | undefined;
}

type LogWriter = Pick<winston.Logger, 'log'>;

function describe(value: unknown): string {
  if (!value || typeof value !== 'object') return value === undefined ? '' : String(value);
  const { code, message } = value as { code?: unknown; message?: unknown };
  return `${String(code ?? '')}:${String(message ?? '')}`;
}

/**
 * Flood control for warnings and errors. During an outage the same failure repeats for every
 * request (a database down wrote ~190 stack traces a second); the first line of each kind is
 * written as it comes, the ones after it within REPEAT_INTERVAL_MS are counted, and at the end of
 * the interval one line carries the latest of them with `repeated: N`. A kind is the level,
 * message, `code`, `reason` and the error's code and message: not the request ID, not the stack.
 */
export class RepeatedLogGate {
  private readonly kinds = new Map<string, Kind>();
  private writer: LogWriter | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = REPEAT_INTERVAL_MS) {}

  /** The logger the summaries are written to (the one this gate's format belongs to). */
  attach(writer: LogWriter): void {
    this.writer = writer;
  }

  /** A winston format: false drops the line. Put it first, before anything copies the entry. */
  readonly format = winston.format((info) => (this.admit(info) ? info : false));

  private admit(info: winston.Logform.TransformableInfo): boolean {
    if ((info.level !== 'error' && info.level !== 'warn') || typeof info.repeated === 'number') return true;
    const key = [info.level, info.message, describe(info.code), describe(info.reason), describe(info.err)].join('\u0000');
    const now = performance.now();
    const kind = this.kinds.get(key);
    if (!kind || (now >= kind.until && kind.dropped === 0)) {
      this.kinds.delete(key);
      this.kinds.set(key, { until: now + this.intervalMs, dropped: 0, sample: undefined });
      if (this.kinds.size > MAX_KINDS) this.kinds.delete(this.kinds.keys().next().value!);
      return true;
    }
    kind.dropped += 1;
    kind.sample = info;
    this.schedule(kind.until - now);
    return false;
  }

  private schedule(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.summarise(), Math.max(0, delayMs));
    this.timer.unref();
  }

  /** Writes one line per kind whose interval ended with dropped lines; re-arms for the rest. */
  private summarise(): void {
    this.timer = undefined;
    const now = performance.now();
    let next: number | undefined;
    for (const kind of this.kinds.values()) {
      if (kind.dropped === 0) continue;
      if (now < kind.until) {
        next = Math.min(next ?? Infinity, kind.until - now);
        continue;
      }
      const { level, message, ...rest } = kind.sample!;
      const repeated = kind.dropped;
      kind.dropped = 0;
      kind.sample = undefined;
      kind.until = now + this.intervalMs;
      this.writer?.log(level, String(message), { ...rest, repeated, interval_s: this.intervalMs / 1000 });
    }
    if (next !== undefined) this.schedule(next);
  }
}
