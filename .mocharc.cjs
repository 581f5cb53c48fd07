// What `npm test` runs: every compiled test file (dist/test/**/*.test.js).
//
// KEYPORT_TEST_SET splits the same suite for CI's schedule (.ci/run), nothing else reads it:
// - `timing`: only the files whose assertions are wall-clock bounds under load (recovery within
//   1 s of a fault, a request at most 5 ms slower with the circuit open), which miss them when
//   another suite takes a core; CI runs these alone, one database after another;
// - `topology`: only test/topology/, which starts real deployments of its own (Redis Sentinel,
//   Redis Cluster, a MariaDB primary + replica, from Debian's redis-server, redis-cli, mariadbd and
//   mariadb-install-db on private ports 17000-17999) and runs failovers; CI runs it once, alone,
//   in its MariaDB step (docs/scaling.md);
// - `untimed`: every other file; CI runs these for all databases side by side.
// Unset (the README's `npm test`): the whole suite, topology included (its files skip, saying so,
// where those binaries are missing; under CI=true they fail instead).
//
// KEYPORT_TEST_SHARD=i/n (CI only) takes every n-th file of the chosen set, starting at the i-th,
// in path order, so n mocha processes side by side run the set exactly once between them.
const { readdirSync } = require('node:fs');
const { join } = require('node:path');
const TIMING = ['dist/test/resilience/faults_under_load.test.js'];
const TOPOLOGY = ['dist/test/topology/**/*.test.js'];

const set = process.env.KEYPORT_TEST_SET;
if (set !== undefined && set !== '' && set !== 'timing' && set !== 'untimed' && set !== 'topology') {
  throw new Error(`KEYPORT_TEST_SET must be "timing", "untimed", "topology" or unset, not "${set}"`);
}

const SPEC = { timing: TIMING, topology: TOPOLOGY };
let spec = SPEC[set] ?? ['dist/test/**/*.test.js'];
let ignore = set === 'untimed' ? [...TIMING, ...TOPOLOGY] : [];

const shard = process.env.KEYPORT_TEST_SHARD;
if (shard !== undefined && shard !== '') {
  const match = /^(\d+)\/(\d+)$/.exec(shard);
  const [index, count] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (!match || count < 1 || index < 1 || index > count) throw new Error(`KEYPORT_TEST_SHARD must be i/n with 1 <= i <= n, not "${shard}"`);
  if (set !== 'untimed') throw new Error('KEYPORT_TEST_SHARD splits the untimed set only (KEYPORT_TEST_SET=untimed)');
  const ignored = (file) => file.startsWith('dist/test/topology/') || TIMING.includes(file);
  const files = readdirSync('dist/test', { recursive: true })
    .map((file) => join('dist/test', file).split('\\').join('/'))
    .filter((file) => file.endsWith('.test.js') && !ignored(file))
    .sort();
  spec = files.filter((_, position) => position % count === index - 1);
  ignore = [];
}

module.exports = {
  spec,
  ignore,
  timeout: 30000,
  slow: 2000,
  exit: true,
  'enable-source-maps': true,
};
