/**
 * Seam: an engine failure on the device verification page (oidc-provider 9.13.3). A form posted to
 * `/oauth/device` without a live session (no cookie, an expired or foreign one, a forged form), or
 * the resume route `/oauth/device/:uid` with an unknown uid, is refused by the engine (xsrf check,
 * SessionNotFound); its error handler (user-input routes) then puts a fresh xsrf secret into the
 * new, never-saved session, and `ensureSessionSave` (lib/helpers/initialize_app.js) calls
 * `persist()` on it, which throws this TypeError: a 500 instead of the refusal. Keyport answers
 * such a post itself (../device_flow.ts); this says whether an error is that one.
 */
const UNSAVED_SESSION_MESSAGE = 'persist can only be called on previously persisted Sessions';

export function isUnsavedSessionFailure(err: unknown): boolean {
  return err instanceof TypeError && err.message === UNSAVED_SESSION_MESSAGE;
}
