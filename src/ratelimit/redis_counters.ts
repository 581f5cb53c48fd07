import { BatchLoader } from '../lib/batch_loader.js';
import type { RedisClient } from '../lib/redis_client.js';
import type { CounterReading } from './decision.js';

/**
 * Fixed-window counters in Redis, every operation of one request in one command.
 *
 * Decided for speed (docs/benchmarks.md "Rate limits on, with Redis"): an API-key request with
 * rate-limiter-flexible's Redis limiter sent five commands (the key-guess guard's GET and PTTL,
 * then one Lua increment per window of the key), and ioredis's per-command work (command
 * objects, key prefixing, reply parsing, a promise each) plus the library's result objects were
 * most of what limits cost. This script counts all of a request's windows in one call; a
 * counter's arithmetic is the library's own (its `incrTtlLuaScript`: `SET 0 EX NX`, `INCRBY`,
 * `PTTL`, an `EXPIRE` if the key lost its TTL), and the keys are the library's too
 * (`<keyPrefix>:<subject>`), so counts carry over a rolling upgrade in both directions.
 *
 * The requests of one event-loop turn share that command (BatchLoader `per-turn`): under load
 * dozens of requests ask in the same turn, and each command costs ioredis a command object, a
 * promise and a reply to parse, and Redis a command to dispatch, whatever its size. The script
 * runs the requests' operations one after another, atomically, in the order they were asked:
 * exactly what the same requests' commands one by one would have done. When the command fails,
 * every request in it hears so and falls back to its insurance counter (CounterStore), as one
 * request alone would.
 *
 * A Redis Cluster may hold a request's keys on different nodes, so there every key goes in a
 * call of its own (one command per key, as with the library; docs/scaling.md "Redis keys on a
 * cluster").
 *
 * ARGV[i] says what to do with KEYS[i]: `h<seconds>` counts one, `r<seconds>` takes one back
 * (both start a window of that many seconds if none runs), `p` reads, `c` deletes. The reply has
 * two integers per key: the count, and the milliseconds left in its window (-2: no such key).
 */
const COUNTERS_SCRIPT = `
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local op = string.sub(ARGV[i], 1, 1)
  if op == 'p' then
    local count = redis.call('get', key)
    if count then
      out[2 * i - 1] = tonumber(count)
      out[2 * i] = redis.call('pttl', key)
    else
      out[2 * i - 1] = 0
      out[2 * i] = -2
    end
  elseif op == 'c' then
    redis.call('del', key)
    out[2 * i - 1] = 0
    out[2 * i] = -2
  else
    local seconds = tonumber(string.sub(ARGV[i], 2))
    local by = 1
    if op == 'r' then by = -1 end
    redis.call('set', key, 0, 'EX', seconds, 'NX')
    local count = redis.call('incrby', key, by)
    local ttl = redis.call('pttl', key)
    if ttl == -1 then
      redis.call('expire', key, seconds)
      ttl = 1000 * seconds
    end
    out[2 * i - 1] = count
    out[2 * i] = ttl
  end
end
return out
`;

/**
 * The commands' names on the client (ioredis `defineCommand`: EVALSHA, EVAL when Redis lost the
 * script). On a cluster, ioredis's automatic pipelining routes a command by its first argument
 * unless the command declares how many keys it takes, so there the one-key form is used.
 */
const MANY_KEYS = 'keyportCounters';
const ONE_KEY = 'keyportCounter';

type ManyKeysCommand = (numberOfKeys: number, ...keysThenArgs: string[]) => Promise<number[]>;
type OneKeyCommand = (key: string, arg: string) => Promise<number[]>;

export type CounterOperation = 'hit' | 'refund' | 'peek' | 'clear';

export interface CounterCall {
  /** The counter's key without the client's REDIS_PREFIX, e.g. `rl:key:live:burst:key_…`. */
  readonly key: string;
  readonly operation: CounterOperation;
  /** The window's length (hit and refund start a window this long when none runs). */
  readonly seconds: number;
}

const OPERATION_CODES: Record<CounterOperation, string> = { hit: 'h', refund: 'r', peek: 'p', clear: 'c' };

/**
 * The most keys one command carries (a request brings one to three): the script holds Redis for
 * the whole command, ~1 µs a key, so a turn with more goes out in several commands.
 */
export const MAX_KEYS_PER_COMMAND = 192;

/**
 * `readings[i]` answers `calls[i]`: the count after the operation and the time left in the
 * window; `null` when the key does not exist (a peek of a window in which nothing was counted,
 * and every clear).
 */
export class RedisCounters {
  private readonly manyKeys: ManyKeysCommand | undefined;
  private readonly oneKey: OneKeyCommand | undefined;
  /** Each item is one request's calls; a batch is one command (see the class comment). */
  private readonly requests: BatchLoader<readonly CounterCall[], Array<CounterReading | null>> | undefined;

  constructor(private readonly redis: RedisClient) {
    const client = redis as unknown as Record<string, ManyKeysCommand | OneKeyCommand | undefined>;
    if (redis.isCluster) {
      if (typeof client[ONE_KEY] !== 'function') redis.defineCommand(ONE_KEY, { lua: COUNTERS_SCRIPT, numberOfKeys: 1 });
      this.oneKey = (client[ONE_KEY] as OneKeyCommand).bind(redis);
    } else {
      if (typeof client[MANY_KEYS] !== 'function') redis.defineCommand(MANY_KEYS, { lua: COUNTERS_SCRIPT });
      this.manyKeys = (client[MANY_KEYS] as ManyKeysCommand).bind(redis);
      this.requests = new BatchLoader({
        dispatch: 'per-turn',
        maxBatch: MAX_KEYS_PER_COMMAND,
        weight: (calls) => calls.length,
        runBatch: (requests) => this.runTogether(requests),
      });
    }
  }

  /** Whether a command sent now can be answered (no offline queue: anything else fails at once). */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  async run(calls: readonly CounterCall[]): Promise<Array<CounterReading | null>> {
    if (this.oneKey) {
      const oneKey = this.oneKey;
      const replies = await Promise.all(calls.map((call) => oneKey(call.key, argumentOf(call))));
      return replies.map((reply) => reading(reply, 0));
    }
    if (calls.length === 0) return [];
    return this.requests!.load(calls);
  }

  /** Several requests' calls in one command; each request gets its own readings back. */
  private async runTogether(requests: ReadonlyArray<readonly CounterCall[]>): Promise<Array<Array<CounterReading | null>>> {
    const calls = requests.length === 1 ? requests[0]! : requests.flat();
    const reply = await this.manyKeys!(calls.length, ...calls.map((call) => call.key), ...calls.map(argumentOf));
    let offset = 0;
    return requests.map((request) => {
      const readings = request.map((_, i) => reading(reply, offset + i));
      offset += request.length;
      return readings;
    });
  }
}

function argumentOf(call: CounterCall): string {
  const code = OPERATION_CODES[call.operation];
  return call.operation === 'hit' || call.operation === 'refund' ? `${code}${call.seconds}` : code;
}

/** The `i`-th key's reading in a reply. */
function reading(reply: readonly number[], i: number): CounterReading | null {
  const msBeforeReset = Number(reply[2 * i + 1]);
  return msBeforeReset === -2 ? null : { consumed: Number(reply[2 * i]), msBeforeReset };
}
