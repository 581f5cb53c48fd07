// Deep imports of oidc-provider (see modules.ts). Typed there by casting to the public typings.
declare module 'oidc-provider/lib/provider.js' {
  export const Provider: unknown;
}
declare module 'oidc-provider/lib/helpers/keystore.js' {
  export const ExternalSigningKey: unknown;
}
declare module 'oidc-provider/lib/helpers/errors.js' {
  const errors: Record<string, unknown>;
  export = errors;
}
declare module 'oidc-provider/lib/actions/introspection.js' {
  const steps: unknown[];
  export default steps;
}
declare module 'oidc-provider/lib/helpers/als.js' {
  const als: unknown;
  export default als;
}
