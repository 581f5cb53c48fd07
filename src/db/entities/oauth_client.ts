import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A registered OAuth client. The engine sees it through src/oidc/engine_clients.ts. */
@Entity({ name: 'oauth_clients' })
export class OAuthClient {
  /** `cli_…`, the OAuth `client_id`. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  /** Shown on the consent page. */
  @Column({ type: 'varchar', length: 128 })
  name: string;

  /** keyedHash of the client secret; null for public and private_key_jwt clients. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  secretHash: string | null;

  /** `client_secret_basic` (also accepts client_secret_post), `private_key_jwt` or `none`. */
  @Column({ type: 'varchar', length: 32 })
  tokenEndpointAuthMethod: string;

  /** OAuth grant type values, e.g. `client_credentials`, `urn:ietf:params:oauth:grant-type:token-exchange`. */
  @Column({ type: 'simple-json' })
  grantTypes: string[];

  @Column({ type: 'simple-json' })
  redirectUris: string[];

  @Column({ type: 'simple-json' })
  postLogoutRedirectUris: string[];

  /** Space-separated scopes the client may ask for (OIDC and API scopes alike). */
  @Column({ type: 'varchar', length: 1000 })
  scope: string;

  /** Public keys for private_key_jwt, inline. */
  @Column({ type: 'simple-json', nullable: true })
  jwks: { keys: Array<Record<string, unknown>> } | null;

  /** Public keys for private_key_jwt, fetched. */
  @Column({ type: 'varchar', length: 2048, nullable: true })
  jwksUri: string | null;

  /** RFC 9449 `dpop_bound_access_tokens`: every token request must carry a DPoP proof (`--require-dpop`). */
  @Column({ type: 'boolean', default: false })
  requireDpop: boolean;

  /** RFC 9126 `require_pushed_authorization_requests`: authorization requests only through PAR (`--require-par`). */
  @Column({ type: 'boolean', default: false })
  requirePar: boolean;

  @Column({ type: 'datetime' })
  createdAt: Date;

  /** `dynamic` for a client registered through RFC 7591 (src/oidc/registration.ts); null for clients an operator made. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  registration: 'dynamic' | null;

  /** When a dynamically registered client stops working (`REGISTERED_CLIENT_TTL`); null: never. */
  @Column({ type: 'datetime', nullable: true })
  expiresAt: Date | null;
}
