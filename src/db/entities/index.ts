import { Agent } from './agent.js';
import { ApiKey } from './api_key.js';
import { AuditEvent } from './audit_event.js';

/** Every entity TypeORM maps. A feature adding an entity adds it here and a migration under migrations/. */
export const ENTITIES = [AuditEvent, Agent, ApiKey];

export { Agent, ApiKey, AuditEvent };
