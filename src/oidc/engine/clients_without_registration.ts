import type { EngineClient } from './modules.js';

/**
 * Seam: what Keyport relies on of the engine's clients without prior registration (client ID
 * metadata documents, lib/helpers/client_id_metadata_document.js; dynamic registration's initial
 * access tokens, lib/models/initial_access_token.js with the opaque format).
 *
 * - the feature version `features.clientIdMetadataDocument` must be acknowledged with;
 * - a client the engine built from a metadata document carries a `clientIdMetadataDocument: true`
 *   property (not in the engine's typings);
 * - an initial access token stored through the adapter as `{ iat, exp, jti, kind }` under its
 *   value is found by `provider.InitialAccessToken.find(value)`, so the CLI can issue one
 *   without running the engine (../registration.ts).
 */

/** `features.clientIdMetadataDocument.ack` for the pinned engine. */
export const CLIENT_ID_METADATA_DOCUMENT_ACK = 'draft-02';

/** Whether an engine client came from a client ID metadata document. */
export function isMetadataDocumentClient(client: EngineClient | undefined): boolean {
  return (client as { clientIdMetadataDocument?: boolean } | undefined)?.clientIdMetadataDocument === true;
}

/** The engine's model name of initial access tokens. */
export const INITIAL_ACCESS_TOKEN_MODEL = 'InitialAccessToken';

/** What the engine stores for an opaque initial access token whose value (and jti) is `token`. */
export function initialAccessTokenPayload(token: string, iat: number, exp: number): { iat: number; exp: number; jti: string; kind: string } {
  return { iat, exp, jti: token, kind: INITIAL_ACCESS_TOKEN_MODEL };
}
