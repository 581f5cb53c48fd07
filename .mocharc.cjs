// What `npm test` runs: every compiled test file (dist/test/**/*.test.js).
//
// KEYPORT_TEST_SET splits the same suite for CI's schedule (.ci/run), nothing else reads it:
// - `timing`: only the files whose assertions are wall-clock bounds under load (recovery within
//   1 s of a fault, a request at most 5 ms slower with the circuit open, the resource-server kit's
//   open circuit answering within 100 ms, the CLI with REDIS_URL migrating and exiting within 15 s,
//   logins refused in under 500 ms once the database pool's queue is full, requests 25 ms apart),
//   which miss them when another suite takes a core; CI runs these alone, one database after another;
// - `topology`: only test/topology/, which starts real deployments of its own (Redis Sentinel,
//   Redis Cluster, a MariaDB primary + replica, from Debian's redis-server, redis-cli, mariadbd and
//   mariadb-install-db on private ports 17000-17999) and runs failovers; CI runs it once, alone,
//   in its MariaDB step (docs/scaling.md);
// - `untimed`: every other file; CI runs these for all databases side by side.
// Unset (the README's `npm test`): the whole suite, topology included (its files skip, saying so,
// where those binaries are missing; under CI=true they fail instead).
//
// KEYPORT_TEST_JOBS=n (CI only) runs the chosen set in mocha's parallel mode with n worker
// processes: each worker takes the next file when it is done with one, so the workers finish within
// a file's length of each other (fixed halves of the file list finished up to 70 s apart).
const TIMING = ['dist/test/resilience/faults_under_load.test.js', 'dist/test/resilience/outage_errors.test.js', 'dist/test/sdk/introspection.test.js', 'dist/test/edge/cli_redis.test.js'];
const TOPOLOGY = ['dist/test/topology/**/*.test.js'];

const set = process.env.KEYPORT_TEST_SET;
if (set !== undefined && set !== '' && set !== 'timing' && set !== 'untimed' && set !== 'topology') {
  throw new Error(`KEYPORT_TEST_SET must be "timing", "untimed", "topology" or unset, not "${set}"`);
}

const SPEC = { timing: TIMING, topology: TOPOLOGY };
const spec = SPEC[set] ?? ['dist/test/**/*.test.js'];
const ignore = set === 'untimed' ? [...TIMING, ...TOPOLOGY] : [];

const jobs = process.env.KEYPORT_TEST_JOBS;
let parallel = {};
if (jobs !== undefined && jobs !== '') {
  const count = /^\d+$/.test(jobs) ? Number(jobs) : 0;
  if (count < 1) throw new Error(`KEYPORT_TEST_JOBS must be a whole number of at least 1, not "${jobs}"`);
  if (set !== 'untimed') throw new Error('KEYPORT_TEST_JOBS runs the untimed set only (KEYPORT_TEST_SET=untimed)');
  parallel = { parallel: true, jobs: count };
}

// KEYPORT_TEST_PROGRESS=file (CI) loads test/support/hang_watch: each test process logs its files
// and tests there, and one whose event loop stops turning reports its stack and ends.
const progress = process.env.KEYPORT_TEST_PROGRESS ? { require: ['dist/test/support/hang_watch.js'] } : {};

module.exports = {
  spec,
  ignore,
  timeout: 30000,
  slow: 2000,
  exit: true,
  'enable-source-maps': true,
  ...parallel,
  ...progress,
};
