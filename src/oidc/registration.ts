import { randomBytes } from 'node:crypto';
import type { ClientService, RegisteredClientMetadata } from '../clients/client_service.js';
import type { ClientUrlPolicy } from '../clients/url_policy.js';
import type { ClientRegistrationSettings } from '../config/client_registration.js';
import { type Clock, systemClock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import type { PayloadStore } from './adapter.js';
import { errors, INITIAL_ACCESS_TOKEN_MODEL, initialAccessTokenPayload, type EngineClient, type KoaContextWithOIDC, type Provider } from './engine/index.js';
import { API_SCOPE_METADATA, OIDC_SCOPES } from './policy.js';

// Dynamic client registration (RFC 7591) and its management API (RFC 7592), the MCP
// authorization spec's fallback when a client has no metadata document. The engine runs the
// endpoints (`/oauth/register`, `/oauth/register/:id`); Keyport decides who may register
// (`REGISTRATION_POLICY`), shapes what may be registered, and stores the result in `oauth_clients`
// like every client (keyed-hash secret), marked dynamic and expiring (`REGISTERED_CLIENT_TTL`).
// docs/oauth.md "Clients without prior registration".

/** Id prefix of dynamically registered clients: they are told apart from operator-made clients by it. */
export const REGISTERED_CLIENT_PREFIX = 'dcr_';
/** Grants a registered client may use: only ones where a user consents (no client_credentials: it would hold no scopes of its own). */
const REGISTRABLE_GRANTS = new Set(['authorization_code', 'refresh_token']);
const MAX_REDIRECT_URIS = 20;
const REGISTRATION_ROUTES = new Set(['registration', 'client_update']);

export function isRegisteredClient(client: EngineClient | undefined): boolean {
  return typeof client?.clientId === 'string' && client.clientId.startsWith(REGISTERED_CLIENT_PREFIX);
}

/** A redirect URI a client may register without an initial access token: https, or http to this machine (RFC 8252 §7.3). */
export function isOpenRedirectUri(uri: unknown): boolean {
  const url = typeof uri === 'string' ? URL.parse(uri) : null;
  if (!url || url.hash) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}

export class DynamicRegistration {
  constructor(
    private readonly settings: ClientRegistrationSettings,
    private readonly clients: ClientService,
    private readonly urls: ClientUrlPolicy,
    private readonly clock: Clock = systemClock,
  ) {}

  get enabled(): boolean {
    return this.settings.registration !== 'closed';
  }

  /** The engine's `features.registration` and `features.registrationManagement`. */
  engineFeatures(): { registration: Record<string, unknown>; registrationManagement: Record<string, unknown> } {
    if (!this.enabled) return { registration: { enabled: false }, registrationManagement: { enabled: false } };
    return {
      registration: {
        enabled: true,
        // `true`: initial access tokens are engine tokens stored through the adapter (issued by
        // `keyport client:registration-token` and the admin API, `issueInitialAccessToken`).
        initialAccessToken: this.settings.registration === 'initial-access-token',
        idFactory: () => newId('dcr'),
        issueRegistrationAccessToken: true,
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
    };
  }

  /**
   * Shapes and checks metadata sent to the registration endpoints (called by the engine's
   * `extraClientMetadata.validator`, which may modify the metadata; other routes are left alone).
   * Throws the engine's invalid_client_metadata / invalid_redirect_uri.
   */
  shapeRegistration(ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>): void {
    if (!REGISTRATION_ROUTES.has(ctx?.oidc?.route ?? '')) return;
    if (metadata[API_SCOPE_METADATA] !== undefined) throw new errors.InvalidClientMetadata(`${API_SCOPE_METADATA} cannot be registered`);
    const grants = metadata.grant_types ?? ['authorization_code'];
    if (!Array.isArray(grants) || grants.some((grant) => !REGISTRABLE_GRANTS.has(grant as string))) {
      throw new errors.InvalidClientMetadata('grant_types may only hold authorization_code and refresh_token');
    }
    if (typeof metadata.client_name === 'string' && metadata.client_name.length > 128) throw new errors.InvalidClientMetadata('client_name is limited to 128 characters');
    const redirects = metadata.redirect_uris;
    if (Array.isArray(redirects) && redirects.length > MAX_REDIRECT_URIS) throw new errors.InvalidClientMetadata(`at most ${MAX_REDIRECT_URIS} redirect_uris`);
    // API scopes are not the client's to register: the audience's scopes bound what it gets and
    // the user's consent decides (configuration.ts). An MCP client sends the resource's scopes here.
    if (typeof metadata.scope === 'string') {
      const oidc = metadata.scope.split(' ').filter((scope) => (OIDC_SCOPES as readonly string[]).includes(scope));
      if (oidc.length) metadata.scope = [...new Set(oidc)].join(' ');
      else delete metadata.scope;
    }
    if (typeof metadata.jwks_uri === 'string') {
      try {
        this.urls.checkRegistration(metadata.jwks_uri, 'jwks_uri');
      } catch (error) {
        throw new errors.InvalidClientMetadata((error as Error).message);
      }
    }
    if (this.settings.registration === 'open-public') {
      // Anyone may register: only public clients with PKCE (required for them), https or loopback redirects.
      if (metadata.token_endpoint_auth_method !== 'none') throw new errors.InvalidClientMetadata('only public clients (token_endpoint_auth_method "none") may register without an initial access token');
      if (metadata.jwks !== undefined || metadata.jwks_uri !== undefined) throw new errors.InvalidClientMetadata('a public client has no keys');
      if (!Array.isArray(redirects) || !redirects.every(isOpenRedirectUri)) throw new errors.InvalidRedirectUri('redirect_uris must be https, or http on 127.0.0.1, [::1] or localhost');
    }
  }

  /** Stores what the engine registered or updated (the engine's Client adapter `upsert`). */
  async store(metadata: RegisteredClientMetadata): Promise<void> {
    await this.clients.saveRegistered(metadata, this.settings.registeredClientTtl, new Date(this.clock.now()));
  }

  /** RFC 7592 delete (the engine's Client adapter `destroy`): the client and its tokens go. */
  async remove(id: string): Promise<void> {
    await this.clients.delete(id, { actor: 'registration' });
  }
}

/**
 * Issues an initial access token for `REGISTRATION_POLICY=initial-access-token`, stored as the
 * engine stores its own (model `InitialAccessToken`, a 256-bit opaque value, row id its keyed
 * hash), so the CLI can issue one without running the engine. The engine accepts it until it
 * expires (reusable); test/oidc/engine/contract.test.ts checks the engine finds it.
 */
export async function issueInitialAccessToken(payloads: Pick<PayloadStore, 'adapterFor'>, ttlSeconds: number, clock: Clock = systemClock): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const iat = Math.floor(clock.now() / 1000);
  const exp = iat + ttlSeconds;
  await payloads.adapterFor(INITIAL_ACCESS_TOKEN_MODEL).upsert(token, initialAccessTokenPayload(token, iat, exp), ttlSeconds);
  return { token, expiresAt: new Date(exp * 1000) };
}

/**
 * RFC 7592 read and update answer with the client's metadata as the engine holds it, where
 * `client_secret` is Keyport's keyed hash, not the secret: it is left out (the secret was shown
 * once, at registration).
 */
export function hideStoredClientSecrets(provider: Provider, registrationPath: string): void {
  const clientPrefix = `${registrationPath}/`;
  // Only the client routes (`<registration>/:clientId`) answer metadata: every other request goes
  // on at once, without an async step of its own (each engine request passes here).
  provider.use(function hideStoredClientSecret(ctx, next) {
    if (!ctx.path.startsWith(clientPrefix)) return next();
    return next().then(() => {
      const route = (ctx as KoaContextWithOIDC).oidc?.route;
      if (route !== 'client' && route !== 'client_update') return;
      const body = ctx.body as Record<string, unknown> | undefined;
      if (body && typeof body === 'object' && 'client_secret' in body) {
        delete body.client_secret;
        delete body.client_secret_expires_at;
      }
    });
  });
}
