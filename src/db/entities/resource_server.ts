import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * An API that accepts Keyport access tokens, named by its audience URI (RFC 8707 resource
 * indicator). Without a row, only the default audience (the issuer) is known.
 */
@Entity({ name: 'resource_servers' })
export class ResourceServer {
  /** Absolute URI clients send as `resource`; becomes the token's `aud`. */
  @PrimaryColumn({ type: 'varchar', length: 255 })
  audience: string;

  /** `jwt` (RFC 9068, verifiable against the JWKS) or `opaque` (introspection only). */
  @Column({ type: 'varchar', length: 8 })
  format: 'jwt' | 'opaque';

  /** Space-separated scopes this API understands; null: any scope the client may ask for. */
  @Column({ type: 'varchar', length: 1000, nullable: true })
  scope: string | null;

  /** Access-token lifetime in seconds; null: the default (1 h). */
  @Column({ type: 'int', nullable: true })
  accessTokenTtl: number | null;

  @Column({ type: 'datetime' })
  createdAt: Date;
}
