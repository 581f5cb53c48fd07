/**
 * How much the fuzz suite runs. `npm test` (and CI) runs a fixed seed and a bounded number of
 * requests, so a merge never fails on a random draw; `npm run fuzz` (test/fuzz/cli.ts) sets
 * these variables for longer runs with a fresh seed, and prints how to replay a failure.
 */
export interface FuzzSettings {
  /** Requests per property (each property covers one family of routes). */
  readonly runs: number;
  readonly seed: number;
  /** fast-check's counterexample path, to replay exactly one failure (with the same seed). */
  readonly path: string | undefined;
  /** Whether the seed was chosen for this run (printed up front) or fixed. */
  readonly randomSeed: boolean;
}

/** The seed of the bounded run in `npm test`: fixed, so CI is reproducible. */
export const CI_SEED = 20251202;
/** Requests per property in `npm test`: together well under a minute per database. */
export const CI_RUNS = 250;

function integer(value: string | undefined): number | undefined {
  return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : undefined;
}

export function fuzzSettings(env: NodeJS.ProcessEnv = process.env): FuzzSettings {
  const seed = integer(env.KEYPORT_FUZZ_SEED);
  return {
    runs: integer(env.KEYPORT_FUZZ_RUNS) ?? CI_RUNS,
    seed: seed ?? CI_SEED,
    path: env.KEYPORT_FUZZ_PATH || undefined,
    randomSeed: env.KEYPORT_FUZZ_RANDOM_SEED === '1',
  };
}
