import type { KeyportRouter, RouteStep } from '../http/context.js';

// The router types the admin routes are written against, apart from src/admin/router.ts: the router
// imports the routes, the routes import only these types (no import cycle).

/** The admin router, its handlers seeing `ctx.services` as `S` (each route module's own interface). */
export type AdminRouter<S> = KeyportRouter<S>;
/** A route step that reads `ctx.params` and reaches the services `S`. */
export type AdminRouteStep<S> = RouteStep<S>;
