import { isAhead, turnEnd } from '../../lib/turns.js';
import type { Middleware } from '../context.js';

/**
 * An answer ready within the event-loop turn its request arrived in is sent at the end of that
 * turn (src/lib/turns.ts), with the turn's other answers, instead of from inside the request's own
 * read callback. Answers that waited for I/O (a database round trip, Redis) are sent as soon as
 * they are ready, as before: they already leave in cohorts, one per reply that settled them.
 *
 * Why: a request that needs no I/O (a JWT introspection, `GET /auth/test` on a warm key, most
 * reads on SQLite, `/healthz`) used to be read, handled and answered before the next socket was
 * read, so every answer went out alone and woke its client alone. A client on the same host (a
 * sidecar, a local proxy, the load generator of the bench) then slept and woke once per answer,
 * and each wakeup took the server's core for a while: on the 2-vCPU bench host the answers of
 * such requests cost the server about twice the CPU. Read first, answer at the turn's end, and the
 * client finds many answers per wakeup (docs/benchmarks.md, "Answers at the end of the turn":
 * × 1.7–2.0 on those paths). The cost is the rest of the turn's requests' handling added to the
 * first answers' latency: microseconds when idle, the time the turn takes under load.
 */
export const answerAtTurnEnd: Middleware<unknown> = async function answerAtTurnEnd(_ctx, next) {
  const arrivedBefore = turnEnd();
  await next();
  if (isAhead(arrivedBefore)) await arrivedBefore;
};
