/*
 * The tables the stores build statements for, as Kysely sees them. Statements are compiled once
 * with placeholders (sql.ts `param`), so the column types here only need to admit those; the
 * schema itself is in migrations/, the entities in src/db/entities/.
 */

/** A column value as bound: a placeholder, or a value already converted by values.ts. */
type Value = string | number | Date | null;

export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: string;
  grantId: Value;
  uid: Value;
  userCode: Value;
  clientId: Value;
  expiresAt: Value;
  consumedAt: Value;
}

export interface TokenRevocationsTable {
  kind: string;
  value: string;
  revokedAt: Value;
  expiresAt: Value;
}

export interface ApiKeySessionsTable {
  id: string;
  keyId: string;
  agentId: string;
  sessionId: string;
  sessionHash: string;
  createdAt: Value;
  expiresAt: Value;
  version: Value;
  claimedBy: Value;
  claimedUntil: Value;
  tokenCipher: Value;
  tokenJti: Value;
  tokenIssuedAt: Value;
  tokenExpiresAt: Value;
  tokenFingerprint: Value;
  clientId: Value;
  scope: Value;
  audience: Value;
  grantId: Value;
  refreshCipher: Value;
}

export interface ApiKeysTable {
  id: string;
  agentId: string;
  status: string;
  expiresAt: Value;
  graceUntil: Value;
  env: string;
  accessType: string;
  ipAllowList: Value;
  rateLimitPerMinute: Value;
  rateLimitPerHour: Value;
  rateLimitBurst: Value;
}

export interface AgentsTable {
  id: string;
  status: string;
}

export interface KeyUsageHoursTable {
  keyId: string;
  hourStart: Value;
  requests: Value;
  rejections: Value;
}

export interface Tables {
  key_usage_hours: KeyUsageHoursTable;
  oidc_payloads: OidcPayloadsTable;
  token_revocations: TokenRevocationsTable;
  api_key_sessions: ApiKeySessionsTable;
  api_keys: ApiKeysTable;
  agents: AgentsTable;
}
