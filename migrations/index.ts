import { AuditEvents1732406400000 } from './1732406400000-audit-events.js';
import { AgentsAndApiKeys1732406401000 } from './1732406401000-agents-and-api-keys.js';
import { OidcCore1732500000000 } from './1732500000000-oidc-core.js';
import { Dashboard1732700000000 } from './1732700000000-dashboard.js';
import { ApiKeySessions1732800000000 } from './1732800000000-api-key-sessions.js';
import { RevocationSweep1732900000000 } from './1732900000000-revocation-sweep.js';
import { ReadinessProbe1733000000000 } from './1733000000000-readiness-probe.js';

/**
 * Every migration, in order. Listed explicitly (not globbed) so the compiled ESM build finds them
 * without a loader. Each must work on SQLite and MySQL/MariaDB: use the schema builder
 * (`queryRunner.createTable`), or branch on `queryRunner.connection.options.type`.
 */
export const MIGRATIONS = [AuditEvents1732406400000, AgentsAndApiKeys1732406401000, OidcCore1732500000000, Dashboard1732700000000, ApiKeySessions1732800000000, RevocationSweep1732900000000, ReadinessProbe1733000000000];
