/** The built-in public client that owns tokens minted for a bare API key (docs/reference.md §3). */
export const API_KEY_CLIENT_ID = 'keyport-api-key';
