import type { KeyOptionsInput } from '../keys/index.js';
import { KeyportError } from '../lib/errors.js';
import { asList, type NewKeyForm } from './forms.js';

export const KEY_FORM_FIELDS = [
  'name', 'contact_email', 'access_type', 'scopes', 'env', 'expires_in', 'ip_allow_list',
  'rate_limit_per_minute', 'rate_limit_per_hour', 'rate_limit_burst',
] as const;
export type KeyFormField = (typeof KEY_FORM_FIELDS)[number];

/** What the user typed, kept verbatim so a refused form comes back as they left it. */
export interface KeyFormValues {
  name: string;
  contact_email: string;
  access_type: string;
  scopes: string[];
  env: string;
  expires_in: string;
  ip_allow_list: string;
  rate_limit_per_minute: string;
  rate_limit_per_hour: string;
  rate_limit_burst: string;
}

export type FieldErrors<F extends string> = Partial<Record<F, string>>;

export const EMPTY_KEY_FORM: KeyFormValues = {
  name: '', contact_email: '', access_type: 'integrations', scopes: ['read'], env: 'live', expires_in: '',
  ip_allow_list: '', rate_limit_per_minute: '', rate_limit_per_hour: '', rate_limit_burst: '',
};

export function keyFormValues(form: NewKeyForm): KeyFormValues {
  return {
    name: form.name ?? '',
    contact_email: form.contact_email ?? '',
    access_type: form.access_type ?? '',
    scopes: asList(form.scopes),
    env: form.env ?? '',
    expires_in: form.expires_in ?? '',
    ip_allow_list: form.ip_allow_list ?? '',
    rate_limit_per_minute: form.rate_limit_per_minute ?? '',
    rate_limit_per_hour: form.rate_limit_per_hour ?? '',
    rate_limit_burst: form.rate_limit_burst ?? '',
  };
}

const optional = (value: string): string | undefined => (value.trim() === '' ? undefined : value.trim());

/**
 * A whole number when it looks like one; anything else goes to the key service as typed, which
 * refuses it with a message naming the field and the value.
 */
function limit(value: string): number | undefined {
  const text = optional(value);
  if (text === undefined) return undefined;
  return (/^-?\d{1,15}$/.test(text) ? Number(text) : text) as number;
}

/** Form values → the key service's input. Empty optional fields mean "not set". */
export function keyOptions(values: KeyFormValues): KeyOptionsInput {
  const allowList = values.ip_allow_list.split(/[\s,]+/).filter((entry) => entry !== '');
  const rateLimit = { perMinute: limit(values.rate_limit_per_minute), perHour: limit(values.rate_limit_per_hour), burst: limit(values.rate_limit_burst) };
  return {
    name: optional(values.name) ?? '',
    contactEmail: optional(values.contact_email) ?? null,
    accessType: optional(values.access_type),
    // Always a list: nothing ticked is "no scope", which the service refuses, not "the default".
    scopes: values.scopes,
    env: optional(values.env),
    expiresIn: optional(values.expires_in),
    ipAllowList: allowList.length > 0 ? allowList : undefined,
    rateLimit: Object.values(rateLimit).some((value) => value !== undefined) ? rateLimit : undefined,
  };
}

/** "scopes: unknown scope …" → "Unknown scope …": the field's label is already beside it. */
function withoutFieldName(message: string): string {
  const text = message.replace(/^[a-z ]+: /, '');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function problem(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    if (err instanceof KeyportError && err.code === 'invalid_request') return withoutFieldName(err.message);
    throw err;
  }
}

/**
 * Per-field messages for a key form, from the key service's own validation: `validate` is
 * `apiKeys.resolveSettings`, called once per field with only that field set, so every wrong field
 * gets its message at once (a single call stops at the first). Empty when the form is good.
 */
export function keyFormErrors(values: KeyFormValues, validate: (input: KeyOptionsInput) => unknown): FieldErrors<KeyFormField> {
  const options = keyOptions(values);
  const errors: FieldErrors<KeyFormField> = {};
  const check = (field: KeyFormField, input: KeyOptionsInput): void => {
    const message = problem(() => validate(input));
    if (message) errors[field] = message;
  };
  check('name', { name: options.name });
  check('contact_email', { contactEmail: options.contactEmail });
  check('access_type', { accessType: options.accessType });
  check('env', { env: options.env });
  // Scopes are judged against the chosen access type when that one is valid.
  check('scopes', { scopes: options.scopes, accessType: errors.access_type ? undefined : options.accessType });
  check('expires_in', { expiresIn: options.expiresIn });
  check('ip_allow_list', { ipAllowList: options.ipAllowList });
  check('rate_limit_per_minute', { rateLimit: { perMinute: options.rateLimit?.perMinute } });
  check('rate_limit_per_hour', { rateLimit: { perHour: options.rateLimit?.perHour } });
  check('rate_limit_burst', { rateLimit: { burst: options.rateLimit?.burst } });
  return errors;
}
