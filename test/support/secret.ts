/** KEYPORT_SECRET of every test app (and of the migrated template, test/support/schema_template.ts). */
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
