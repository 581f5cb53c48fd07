/**
 * Agent ids (docs/reference.md §3). They were `agt_` + 20 characters until agent access tokens took
 * the `agt_` prefix; an id that looked like a credential invited pasting one for the other. Agents
 * are now `agent_…`; migration 1733300000000 rewrote every stored id by swapping the prefix and
 * keeping the 20 random characters, so a legacy id maps to its new form without a lookup.
 */
export const AGENT_ID_PREFIX = 'agent_';
/** The pre-1733300000000 form; still resolved by the CLI and the admin API for one release, with a warning. */
export const LEGACY_AGENT_ID_PREFIX = 'agt_';
const LEGACY_AGENT_ID = /^agt_[A-Za-z0-9]{1,60}$/;
/** A legacy id of a real agent had exactly 20 characters; an agent access token has 32. */
const LEGACY_ISSUED_AGENT_ID = /^agt_[A-Za-z0-9]{20}$/;

export function isLegacyAgentId(value: unknown): value is string {
  return typeof value === 'string' && LEGACY_AGENT_ID.test(value);
}

/**
 * The current form of an agent id given in either form; anything else unchanged. Looking up the
 * result answers "not found" for ids that never existed, as before.
 */
export function canonicalAgentId(value: string): string {
  return isLegacyAgentId(value) ? `${AGENT_ID_PREFIX}${value.slice(LEGACY_AGENT_ID_PREFIX.length)}` : value;
}

/**
 * True for the `sub` of a token minted for an agent: the current form, or the legacy form carried
 * by tokens issued before the migration (valid until they expire; see docs/api-keys.md).
 */
export function isAgentSubject(sub: string): boolean {
  return sub.startsWith(AGENT_ID_PREFIX) || LEGACY_ISSUED_AGENT_ID.test(sub);
}

/** The warning the CLI prints and the admin API sends (`Deprecation`/`Warning` headers) for a legacy id. */
export function legacyAgentIdWarning(given: string): string {
  return `agent id ${JSON.stringify(given.slice(0, 64))} uses the deprecated "agt_" form; use ${JSON.stringify(canonicalAgentId(given).slice(0, 66))} (the old form is accepted for one release).`;
}
