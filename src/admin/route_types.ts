import type Router from '@koa/router';
import type { RouterMiddleware } from '@koa/router';
import type { KeyportContext } from '../http/context.js';

// The router types the admin routes are written against, apart from src/admin/router.ts: the router
// imports the routes, the routes import only these types (no import cycle).

export type AdminRouter = Router<KeyportContext['state'], KeyportContext>;
/** A route step that reads `ctx.params`. */
export type AdminRouteStep = RouterMiddleware<KeyportContext['state'], KeyportContext>;
