/**
 * Node options the server process runs with: `npm start` (package.json), the Dockerfile's CMD and
 * `npm run bench` all start `dist/src/main.js` with exactly these (test/foundation/node_options.test.ts
 * checks they agree).
 *
 * `--max-old-space-size=256`: under load V8 otherwise sizes its heap for the machine (a 4 GB
 * limit on a 24 GB host) and grows the old generation to ~200 MB around ~80 MB of live objects,
 * which put the server's RSS at 290–320 MB in the benchmarks. With a 256 MB limit V8 collects
 * sooner and the peak RSS stayed under 200 MB in the same scenarios, with no loss of throughput.
 * Keyport's caches are bounded (tokens, keys, clients, revocations), so its live heap does not
 * grow with the number of tokens; raise the limit (NODE_OPTIONS or the command) only if a heap
 * out-of-memory error says so.
 */
export const SERVER_NODE_OPTIONS: readonly string[] = ['--max-old-space-size=256'];
