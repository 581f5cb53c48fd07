import { Agent } from './agent.js';
import { ApiKey } from './api_key.js';
import { ApiKeySession } from './api_key_session.js';
import { AuditEvent } from './audit_event.js';
import { DashboardSession } from './dashboard_session.js';
import { KeyUsageHour } from './key_usage_hour.js';
import { MetadataClient } from './metadata_client.js';
import { OAuthClient } from './oauth_client.js';
import { OidcPayload } from './oidc_payload.js';
import { ResourceServer } from './resource_server.js';
import { SigningKey } from './signing_key.js';
import { TokenRevocation } from './token_revocation.js';
import { User } from './user.js';

/** Every entity TypeORM maps. A feature adding an entity adds it here and a migration under migrations/. */
export const ENTITIES = [AuditEvent, Agent, ApiKey, User, OAuthClient, OidcPayload, SigningKey, TokenRevocation, ResourceServer, DashboardSession, KeyUsageHour, ApiKeySession, MetadataClient];

export { Agent, ApiKey, ApiKeySession, AuditEvent, DashboardSession, KeyUsageHour, MetadataClient, OAuthClient, OidcPayload, ResourceServer, SigningKey, TokenRevocation, User };
