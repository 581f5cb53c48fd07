import { AuditEvents1732406400000 } from './1732406400000-audit-events.js';
import { AgentsAndApiKeys1732406401000 } from './1732406401000-agents-and-api-keys.js';
import { OidcCore1732500000000 } from './1732500000000-oidc-core.js';
import { Dashboard1732700000000 } from './1732700000000-dashboard.js';
import { ApiKeySessions1732800000000 } from './1732800000000-api-key-sessions.js';
import { RevocationSweep1732900000000 } from './1732900000000-revocation-sweep.js';
import { hashedTokenIds } from './1733000000000-hashed-token-ids.js';
import { ReadinessProbe1733100000000 } from './1733100000000-readiness-probe.js';
import { AuditFilters1733200500000 } from './1733200500000-audit-filters.js';
import { ClientSenderConstraints1733250000000 } from './1733250000000-client-sender-constraints.js';
import { MetadataClients1733260000000 } from './1733260000000-metadata-clients.js';
import { RegisteredClients1733270000000 } from './1733270000000-registered-clients.js';
import { AgentAccessTokens1733300000000 } from './1733300000000-agent-access-tokens.js';
import type { MigrationInterface } from 'typeorm';
import type { TokenIds } from '../src/oidc/token_ids.js';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the compiled ESM build finds them
 * without a loader. Each must work on SQLite and MySQL/MariaDB: use the schema builder
 * (`queryRunner.createTable`), or branch on `queryRunner.connection.options.type`. A migration
 * that needs more than the database takes it from the context (a class built per data source).
 */
export function migrationsFor(context: MigrationContext): Array<new () => MigrationInterface> {
  return [
    AuditEvents1732406400000, AgentsAndApiKeys1732406401000, OidcCore1732500000000, Dashboard1732700000000, ApiKeySessions1732800000000,
    RevocationSweep1732900000000, hashedTokenIds(context.tokenIds), ReadinessProbe1733100000000,
    AuditFilters1733200500000,
    ClientSenderConstraints1733250000000, MetadataClients1733260000000, RegisteredClients1733270000000, AgentAccessTokens1733300000000,
  ];
}

/** What some migrations need besides the database (data conversions keyed with KEYPORT_SECRET). */
export interface MigrationContext {
  /** The deployment's token-id hash (src/oidc/token_ids.ts); required when there are rows to convert. */
  readonly tokenIds?: TokenIds;
}
