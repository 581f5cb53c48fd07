import type { ParameterizedContext, DefaultContext } from 'koa';
import type { Services } from '../service_container.js';

/** What Keyport's own middleware keeps on `ctx.state`. Features extend it with declaration merging. */
export interface KeyportState {
  requestId: string;
  /** The route template, for metrics labels (never the raw path: unbounded cardinality). */
  routeName?: string;
  [key: string]: unknown;
}

export type KeyportContext = ParameterizedContext<KeyportState, DefaultContext & { services: Services }>;
export type Middleware = (ctx: KeyportContext, next: () => Promise<unknown>) => Promise<unknown> | unknown;
