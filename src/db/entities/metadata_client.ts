import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A client known by its client ID metadata document (the `client_id` is an https URL; the
 * engine fetches the document, src/oidc/client_metadata_documents.ts). Nothing about it is
 * registered in advance: a row appears when such a client first obtains a grant, so operators
 * can see who came in and block a client (its tokens stop working at once).
 */
@Entity({ name: 'metadata_clients' })
export class MetadataClient {
  /** The client_id: the https URL of the metadata document (at most 191 characters). */
  @PrimaryColumn({ type: 'varchar', length: 191 })
  url: string;

  /** The URL's host, what consent shows next to the name so impostors can be told apart. */
  @Column({ type: 'varchar', length: 255 })
  host: string;

  /** `client_name` from the document when last used (the client's own claim, not verified). */
  @Column({ type: 'varchar', length: 128, nullable: true })
  name: string | null;

  @Column({ type: 'datetime' })
  firstUsedAt: Date;

  @Column({ type: 'datetime' })
  lastUsedAt: Date;

  /** Set when an operator blocked the client: no fetch, no authorization, no token. */
  @Column({ type: 'datetime', nullable: true })
  blockedAt: Date | null;
}
