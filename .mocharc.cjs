// What `npm test` runs: every compiled test file (dist/test/**/*.test.js).
//
// KEYPORT_TEST_SET splits the same suite for CI's schedule (.ci/run), nothing else reads it:
// - `timing`: only the files whose assertions are wall-clock bounds under load (recovery within
//   1 s of a fault, a request at most 5 ms slower with the circuit open), which miss them when
//   another suite takes a core; CI runs these alone, one database after another;
// - `untimed`: every other file; CI runs these for all databases side by side.
// Unset (the README's `npm test`): the whole suite.
const TIMING = ['dist/test/resilience/faults_under_load.test.js'];

const set = process.env.KEYPORT_TEST_SET;
if (set !== undefined && set !== '' && set !== 'timing' && set !== 'untimed') {
  throw new Error(`KEYPORT_TEST_SET must be "timing", "untimed" or unset, not "${set}"`);
}

module.exports = {
  spec: set === 'timing' ? TIMING : ['dist/test/**/*.test.js'],
  ignore: set === 'untimed' ? TIMING : [],
  timeout: 30000,
  slow: 2000,
  exit: true,
  'enable-source-maps': true,
};
