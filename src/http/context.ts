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

export type KeyportContext = ParameterizedContext<KeyportState, DefaultContext & { services: RequestServices }>;
export type Middleware = (ctx: KeyportContext, next: () => Promise<unknown>) => Promise<unknown> | unknown;
