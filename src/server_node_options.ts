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
 *
 * `--no-allocation-site-pretenuring`: after a burst, 3 of 6 servers that ran the bench's `--large`
 * fill after a full run stayed, for as long as they lived, at ~3 full collections a second with
 * young collections ~5 × longer: introspection at ~0.7 × its rate, p99 10–13 ms instead of ~3.
 * With the flag none of 4 did, at no cost beyond the spread elsewhere (docs/benchmarks.md, "A
 * server stuck in full collections"). What fits: V8 counts how many objects from each allocation
 * site survive a young collection and, past a threshold, allocates that site's objects straight
 * into the old generation from then on; under a burst request-scoped objects outlive a collection
 * or two, and once their sites are tenured every later request's garbage lands in the old
 * generation.
 */
export const SERVER_NODE_OPTIONS: readonly string[] = ['--max-old-space-size=512', '--max-semi-space-size=16', '--no-allocation-site-pretenuring'];
