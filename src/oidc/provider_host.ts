import type { Middleware } from '../http/context.js';
import type { EventBus } from '../lib/bus.js';
import type { Logger } from '../lib/logger.js';
import { engineStack, onGrantTypeRegistered, Provider, switchRequestContextOffWhenIdle, type Configuration, type EngineStack } from './engine/index.js';
import { SIGNING_KEYS_CHANNEL, type KeyRing, type SigningKeyStore } from './signing_keys.js';

/** Configures a freshly built provider (grant types, event listeners, pre-middleware). */
export type ProviderSetup = (provider: Provider) => void;

/** Grant types the engine registers itself with Keyport's configuration. */
const BUILT_IN_GRANT_TYPES = ['authorization_code', 'client_credentials', 'refresh_token'];

export { SIGNING_KEYS_CHANNEL };
const RELOAD_INTERVAL_MS = 60_000;

export interface ProviderHostOptions {
  readonly issuer: string;
  readonly trustProxy: boolean;
  readonly logger: Logger;
  readonly bus: EventBus;
  readonly signingKeys: SigningKeyStore;
  /** Builds the engine configuration for a key ring. */
  readonly configure: (ring: KeyRing) => Configuration;
  /** Keyport's own setup, applied to every provider before the extensions. */
  readonly setup: ProviderSetup;
  /** Grant types the engine serves by configuration besides the built-in ones (e.g. the device grant). */
  readonly configuredGrantTypes?: readonly string[];
}

/**
 * Owns the oidc-provider instance. The engine fixes its keystore at construction, so when the
 * signing keys change (`keyport signing-key:rotate` on any instance, or a retired key leaving the
 * JWKS) a new provider is built from the same configuration and swapped in; requests in flight
 * finish on the old one. All engine state lives in the database, so nothing is lost.
 *
 * Features extend the provider through `extend()` (not by touching `provider` once), so their
 * grant types and listeners survive a rebuild.
 */
export class ProviderHost {
  private current: { provider: Provider; ring: KeyRing; dispatch: EngineStack } | undefined;
  private starting: Promise<Provider> | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private readonly extensions: ProviderSetup[] = [];
  private readonly grantTypes = new Set(BUILT_IN_GRANT_TYPES);
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: ProviderHostOptions) {
    for (const grant of options.configuredGrantTypes ?? []) this.grantTypes.add(grant);
  }

  /** The current provider. Throws before `ready()` resolved once. */
  get provider(): Provider {
    if (!this.current) throw new Error('the OIDC provider is not started yet (await services.oidc.ready())');
    return this.current.provider;
  }

  /** The keys the current provider signs and publishes with. */
  get keyRing(): KeyRing {
    if (!this.current) throw new Error('the OIDC provider is not started yet (await services.oidc.ready())');
    return this.current.ring;
  }

  /** Grant types the engine accepts (built-in plus those registered through `extend`). */
  get registeredGrantTypes(): ReadonlySet<string> {
    return this.grantTypes;
  }

  /** Runs `setup` on the current provider (if any) and on every provider built later. */
  extend(setup: ProviderSetup): void {
    this.extensions.push(setup);
    if (this.current) this.apply(this.current.provider, setup);
  }

  /**
   * Loads the signing keys (creating the first one on a fresh database), builds the provider and
   * starts watching for key changes. Idempotent; a failed start is retried on the next call.
   */
  ready(): Promise<Provider> {
    this.starting ??= (async () => {
      await this.options.signingKeys.ensureInitialKey();
      const ring = await this.options.signingKeys.load();
      this.install(ring);
      this.watch();
      return this.provider;
    })().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  /** Rebuilds the provider when the published keys changed. Serialized; cheap when nothing changed. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      if (!this.current) return;
      const fingerprint = await this.options.signingKeys.fingerprint();
      if (fingerprint === this.current.ring.fingerprint) return;
      const ring = await this.options.signingKeys.load();
      this.install(ring);
      this.options.logger.info('signing keys reloaded', { signing_kid: ring.signingKid, published: ring.publicJwks.length });
    }).catch((err: unknown) => {
      this.options.logger.error('signing key reload failed', { err });
    });
    return this.reloading;
  }

  /** Hands provider paths to the current provider (the provider mounted at the root). */
  readonly middleware: Middleware<unknown> = async (ctx, next) => {
    // Started once before the server listens; awaiting the settled start on every request would
    // only add a promise and a tick.
    if (!this.current) await this.ready();
    return this.current!.dispatch(ctx, next);
  };

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private install(ring: KeyRing): void {
    // Process-wide and idempotent: the engine's request context costs nothing between its requests.
    switchRequestContextOffWhenIdle();
    const provider = new Provider(this.options.issuer, this.options.configure(ring));
    provider.proxy = this.options.trustProxy;
    this.trackGrantTypes(provider);
    this.options.setup(provider);
    for (const setup of this.extensions) this.apply(provider, setup);
    this.current = { provider, ring, dispatch: engineStack(provider) };
  }

  private apply(provider: Provider, setup: ProviderSetup): void {
    setup(provider);
  }

  private trackGrantTypes(provider: Provider): void {
    onGrantTypeRegistered(provider, (name) => this.grantTypes.add(name));
  }

  private watch(): void {
    // A start that finishes after shutdown must not leave a timer behind.
    if (this.closed) return;
    this.unsubscribe ??= this.options.bus.subscribe(SIGNING_KEYS_CHANNEL, () => { void this.reload(); });
    if (!this.timer) {
      this.timer = setInterval(() => { void this.reload(); }, RELOAD_INTERVAL_MS);
      this.timer.unref();
    }
  }
}
