/**
 * Seam: the forms the engine builds for the device-flow pages (lib/helpers/user_code_form.js,
 * handed to `features.deviceFlow.userCodeInputSource` / `userCodeConfirmSource`). Keyport renders
 * its own forms (no inline event handlers, which its pages' Content-Security-Policy forbids), so it
 * takes only the hidden fields the engine checks on submission: `xsrf` (bound to the engine's
 * session) and, on the confirmation form, `user_code` and `confirm`.
 */

export interface HiddenField {
  readonly name: string;
  readonly value: string;
}

const HIDDEN_INPUT = /<input\s+type="hidden"\s+name="([^"]+)"\s+value="([^"]*)"\s*\/?>/g;
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/** The engine's htmlSafe, undone (the page escapes again when rendering). */
function unescapeHtml(value: string): string {
  return value.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]!);
}

/** The hidden fields of an engine-built device-flow form, in order. */
export function hiddenFieldsOf(form: string): HiddenField[] {
  return [...form.matchAll(HIDDEN_INPUT)].map((match) => ({ name: match[1]!, value: unescapeHtml(match[2]!) }));
}
