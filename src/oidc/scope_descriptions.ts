// How the consent page (src/http/routes/interaction.ts) and the device pages (src/oidc/device_flow.ts)
// name scopes to a person: one list for both, in a module neither page depends on otherwise.

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Confirm who you are',
  email: 'See your email address',
  offline_access: 'Keep access when you are not signed in (refresh tokens)',
  read: 'Read your data',
  write: 'Create and change your data',
  delete: 'Delete your data',
  admin: 'Administer Keyport on your behalf',
};

/** A scope as the consent and device pages show it. */
export function describeScope(scope: string): { name: string; description: string } {
  return { name: scope, description: SCOPE_DESCRIPTIONS[scope] ?? `Use the "${scope}" permission` };
}
