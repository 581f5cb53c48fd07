import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/** A token-signing key pair, shared by every instance. The private half is encrypted at rest. */
@Entity({ name: 'signing_keys' })
@Unique('uq_signing_keys_kid', ['kid'])
export class SigningKey {
  /** `sig_…`; the very first key has the fixed id `sig_initial` so two instances starting together cannot both create one. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  /** JWK thumbprint, the `kid` header of every JWT it signs (unique). */
  @Column({ type: 'varchar', length: 64 })
  kid: string;

  @Column({ type: 'varchar', length: 16 })
  alg: string;

  /** Public JWK, published in the JWKS. */
  @Column({ type: 'simple-json' })
  publicJwk: Record<string, unknown>;

  /** Private JWK, AES-256-GCM encrypted with a key derived from KEYPORT_SECRET. */
  @Column({ type: 'text' })
  privateJwkSealed: string;

  @Column({ type: 'datetime' })
  createdAt: Date;

  /** Set when a newer key took over signing; the key stays in the JWKS while its tokens can be alive. */
  @Column({ type: 'datetime', nullable: true })
  retiredAt: Date | null;
}
