import { ValidateBy, ValidateIf, type ValidationOptions } from 'class-validator';

/**
 * Shape checks the admin API's DTOs share. They check types and sizes only; what a value means
 * (a known scope, a valid CIDR, a sane duration) is the domain's to judge, once, for CLI, API
 * and dashboard alike.
 */

/**
 * The field may be left out. Unlike class-validator's @IsOptional, `null` does not count as left
 * out: it is checked like any value (and refused by the type check, "must be a string, not
 * null"), so the domain never gets a null the DTO's type does not declare (`expires_in: null`
 * and `scopes: null` used to pass and crash the key service with a 500, found by the fuzz suite).
 * Keep @IsOptional for the fields where null means something (`contact_email: null`: no contact).
 */
export function IsOmittable(options?: ValidationOptions): PropertyDecorator {
  return ValidateIf((_object, value) => value !== undefined, options);
}

/** A list of strings or one comma/space-separated string (like the CLI's flags), bounded. */
export function IsStringOrStringList(limits: { maxItems: number; maxLength: number }, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({
    name: 'isStringOrStringList',
    validator: {
      validate: (value: unknown) => {
        if (typeof value === 'string') return value.length <= limits.maxItems * (limits.maxLength + 1);
        return Array.isArray(value) && value.length <= limits.maxItems
          && value.every((item) => typeof item === 'string' && item.length <= limits.maxLength);
      },
      defaultMessage: (args) => `${args?.property} must be a list of at most ${limits.maxItems} strings of at most ${limits.maxLength} characters, or one comma-separated string`,
    },
  }, options);
}

/** A number of seconds (a whole number) or a duration text such as `90d`, `24h`, `30m`. */
export function IsSecondsOrDuration(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({
    name: 'isSecondsOrDuration',
    validator: {
      validate: (value: unknown) => (typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && value.length <= 32),
      defaultMessage: (args) => `${args?.property} must be a whole number of seconds or a duration such as 90d, 24h, 30m`,
    },
  }, options);
}

/** A list of strings, each bounded. */
export function IsBoundedStringList(limits: { maxItems: number; maxLength: number }, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({
    name: 'isBoundedStringList',
    validator: {
      validate: (value: unknown) => Array.isArray(value) && value.length <= limits.maxItems
        && value.every((item) => typeof item === 'string' && item.length <= limits.maxLength),
      defaultMessage: (args) => `${args?.property} must be a list of at most ${limits.maxItems} strings of at most ${limits.maxLength} characters`,
    },
  }, options);
}

/** A whole number given as text (query strings), within bounds. */
export function IsWholeNumberText(limits: { min: number; max: number }, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({
    name: 'isWholeNumberText',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && /^\d{1,9}$/.test(value) && Number(value) >= limits.min && Number(value) <= limits.max,
      defaultMessage: (args) => `${args?.property} must be a whole number from ${limits.min} to ${limits.max}`,
    },
  }, options);
}
