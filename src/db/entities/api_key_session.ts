import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A live API-key session: the pair (API key, client-chosen `session_id`) that `/auth/login` and
 * the token-exchange grant hand the same access token to while it is valid. The row is the
 * serialisation point for concurrent exchanges (unique (keyId, sessionHash) plus a claim), and it
 * keeps the current token, encrypted, so a repeat can return it. Ending a session deletes the row;
 * its tokens are refused through the revocation registry (kind `session`, value `id`).
 */
@Entity({ name: 'api_key_sessions' })
@Index('uq_api_key_sessions_key_session', ['keyId', 'sessionHash'], { unique: true })
@Index('idx_api_key_sessions_agent', ['agentId'])
@Index('idx_api_key_sessions_expires', ['expiresAt'])
export class ApiKeySession {
  /** `ses_…`; a new one each time a session is (re)started, carried by its tokens as the `sid` claim. */
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id: string;

  /** The API key (`key_…`) the session was opened with. */
  @Column({ type: 'varchar', length: 40 })
  keyId: string;

  /** The key's agent (`agent_…`): the `sub` of every token of the session. */
  @Column({ type: 'varchar', length: 40 })
  agentId: string;

  /** The client-chosen session ID as given (`default` when none was given); up to 128 characters. */
  @Column({ type: 'varchar', length: 128 })
  sessionId: string;

  /**
   * SHA-256 (hex) of `sessionId`: the unique index uses it so that IDs compare exactly, code point
   * for code point, whatever the database collation (MySQL's would fold case and accents).
   */
  @Column({ type: 'varchar', length: 64 })
  sessionHash: string;

  @Column({ type: 'datetime' })
  createdAt: Date;

  /** The session (refresh tokens included) ends at this instant at the latest; the clean-up deletes it then. */
  @Column({ type: 'datetime' })
  expiresAt: Date;

  /** Bumped each time a new current token is stored; claims are taken against a version. */
  @Column({ type: 'int' })
  version: number;

  /** Random id of the request minting a token right now (the claim); null when nobody is. */
  @Column({ type: 'varchar', length: 40, nullable: true })
  claimedBy: string | null;

  /** The claim lapses at this instant, so a crashed minter does not block the session. */
  @Column({ type: 'datetime', nullable: true })
  claimedUntil: Date | null;

  /** The current access token, AES-256-GCM under a key derived from KEYPORT_SECRET; never in the clear. */
  @Column({ type: 'text', nullable: true })
  tokenCipher: string | null;

  /** The current token's `jti`. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  tokenJti: string | null;

  /** The current token's `iat`. */
  @Column({ type: 'datetime', nullable: true })
  tokenIssuedAt: Date | null;

  /** The current token's `exp`. */
  @Column({ type: 'datetime', nullable: true })
  tokenExpiresAt: Date | null;

  /** SHA-256 of (client, scope, audience) of the current token: a repeat must ask for the same. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  tokenFingerprint: string | null;

  /** The current token's client (`keyport-api-key` for `/auth/login`). */
  @Column({ type: 'varchar', length: 64, nullable: true })
  clientId: string | null;

  /** The current token's scopes, space-separated. */
  @Column({ type: 'text', nullable: true })
  scope: string | null;

  /** The current token's audience (resource indicator). */
  @Column({ type: 'varchar', length: 255, nullable: true })
  audience: string | null;

  /** The engine grant of the current token (its refresh tokens belong to it). */
  @Column({ type: 'varchar', length: 64, nullable: true })
  grantId: string | null;

  /** The refresh token handed out with the current token, encrypted; handed out again while unused. */
  @Column({ type: 'text', nullable: true })
  refreshCipher: string | null;
}
