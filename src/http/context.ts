import type Router from '@koa/router';
import type { ParameterizedContext, DefaultContext } from 'koa';

/** What Keyport's own middleware keeps on `ctx.state`. Features extend it with declaration merging. */
export interface KeyportState {
  requestId: string;
  /** The route template, for metrics labels (never the raw path: unbounded cardinality). */
  routeName?: string;
  [key: string]: unknown;
}

/**
 * What a request reaches through `ctx.services`. Declared empty here so that this module imports no
 * feature: the container (src/service_container.ts) fills it with its `Services` by declaration merging,
 * as features extend `KeyportState`. Dependencies point one way — features import this module, the
 * container imports the features, nothing imports the container but the entry points.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in src/service_container.ts
export interface RequestServices {}

/**
 * A request whose `ctx.services` is typed `S`. At run time it is always the whole container; the
 * type says which part a module may reach. A route module passes its own interface of narrow
 * feature types (`AdminKeyRouteServices`: `keys: Pick<KeyServices, 'apiKeys'>`, …), so using a
 * service it did not declare does not compile; a helper that reaches no service takes
 * `KeyportContext<unknown>`. The default, the whole container, is for the app's own wiring
 * (src/app.ts).
 */
export type KeyportContext<S = RequestServices> = ParameterizedContext<KeyportState, DefaultContext & { services: S }>;
export type Middleware<S = RequestServices> = (ctx: KeyportContext<S>, next: () => Promise<unknown>) => Promise<unknown> | unknown;

/**
 * A router whose handlers see `ctx.services` as `S`. Routers are invariant in their context type, so a
 * route module is generic — `keyRoutes<S extends AdminKeyRouteServices>(router: KeyportRouter<S>)` —
 * and the app mounts it with the whole container for `S`, which the compiler checks satisfies the
 * module's interface (test/foundation/route_services.test.ts checks every interface as well).
 */
export type KeyportRouter<S = RequestServices> = Router<KeyportState, KeyportContext<S>>;

/** A named route step that reads `ctx.params`, for a router whose handlers see at least `S`. */
export type RouteStep<S = RequestServices> = (ctx: KeyportContext<S> & { params: Record<string, string> }, next: () => Promise<unknown>) => Promise<unknown> | unknown;
