/**
 * Node options the server process runs with: `npm start` (package.json), the Dockerfile's CMD and
 * `npm run bench` all start `dist/src/main.js` with exactly these (test/foundation/node_options.test.ts
 * checks they agree).
 *
 * `--max-old-space-size=512`: under load V8 otherwise sizes its heap for the machine (a 4 GB
 * limit on a 24 GB host, where it lets the old generation grow up to 4× its live size) and grew
 * it to ~200 MB around ~80 MB of live objects, which put the server's RSS at 290–320 MB in the
 * benchmarks. V8 grows a smaller heap more cautiously. Measured on client credentials and
 * introspection (bench, MariaDB): 512 MB kept the peak RSS at 150–165 MB (no limit: ~240 MB in the
 * same scenarios) for a modest cost in GC; 256 MB collected so often that client-credentials
 * throughput fell by a fifth. Keyport's caches are bounded (tokens, keys, clients, revocations),
 * so the live heap does not grow with the number of tokens; raise the limit (in the command) only
 * if a heap out-of-memory error says so.
 *
 * `--max-semi-space-size=16`: the young generation's ceiling (16 MB semi-spaces). Node 20's V8
 * grows to that size under load anyway; Node 24's (the Docker image's runtime) grew past it and
 * put the peak RSS at 267–305 MB in the benchmarks, 182–215 MB with the ceiling. Interleaved A/Bs
 * on both Nodes found no cost beyond the spread (docs/benchmarks.md, "Node 24 against Node 20").
 */
export const SERVER_NODE_OPTIONS: readonly string[] = ['--max-old-space-size=512', '--max-semi-space-size=16'];
