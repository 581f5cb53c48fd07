import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { InvalidRequest } from '../lib/errors.js';
import type { KeyportContext } from './context.js';
import { plainlyValid, type Constructor } from './string_field_dtos.js';

/** Where the values came from: a repeated form field or query parameter arrives as a list. */
export type InputSource = 'json' | 'form' | 'query';

/** class-validator's type checks, and what each expects (for "must be a string, not a number"). */
const TYPE_CHECKS: Readonly<Record<string, string>> = {
  isString: 'a string',
  isInt: 'a whole number',
  isNumber: 'a number',
  isBoolean: 'true or false',
  isObject: 'an object',
  isArray: 'a list',
};

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string': return 'a string';
    case 'number': return Number.isInteger(value) ? 'a whole number' : 'a number';
    case 'boolean': return value ? 'true' : 'false';
    case 'object': return 'an object';
    default: return typeof value;
  }
}

function unknownField(name: string): string {
  return `unknown field "${name}"`;
}

/** class-validator's own sentence, with the field's full path instead of its bare name. */
function ownMessage(error: ValidationError, name: string, message: string): string {
  return message.startsWith(error.property) ? `${name}${message.slice(error.property.length)}` : `${name}: ${message}`;
}

/**
 * One sentence that says what is wrong with a field, whatever order its decorators were written
 * in (all of a field's rules run, and the most basic failure is reported): an unknown field, a
 * missing one, one given twice (a repeated form field or query parameter), a wrong type, then
 * a value too long, then whatever else the rule says.
 */
function describeProblem(error: ValidationError, name: string, source: InputSource): string {
  const constraints = error.constraints ?? {};
  const failed = Object.keys(constraints);
  if (failed.includes('whitelistValidation')) return unknownField(name);
  if (error.value === undefined) return `${name} is required`;
  const typeCheck = failed.find((kind) => kind in TYPE_CHECKS);
  // A list from a form or query string is a repeated field, unless only its items are too long
  // (a field that takes several values, such as checkboxes).
  if (source !== 'json' && Array.isArray(error.value) && !(failed.length === 1 && failed[0] === 'maxLength')) {
    return `${name} is given more than once`;
  }
  if (typeCheck) return `${name} must be ${TYPE_CHECKS[typeCheck]}, not ${kindOf(error.value)}`;
  if (failed.includes('maxLength')) {
    const limit = /\d+/.exec(constraints.maxLength!)?.[0];
    return `${name} is too long (at most ${limit} characters)`;
  }
  const [first] = failed;
  return first ? ownMessage(error, name, constraints[first]!) : `${name} is invalid`;
}

function firstProblem(errors: ValidationError[], source: InputSource, path = ''): string {
  const [first] = errors;
  if (!first) return 'is invalid';
  const name = path ? `${path}.${first.property}` : first.property;
  if (Object.keys(first.constraints ?? {}).length === 0 && first.children && first.children.length > 0) return firstProblem(first.children, source, name);
  return describeProblem(first, name, source);
}

/** The DTO's constraints, all of them synchronous (no DTO has an async validator). */
const VALIDATION = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true, stopAtFirstError: false } as const;

/**
 * The body as a DTO instance, or a 400 naming the first problem (`source` words it).
 * `validateSync`, not `validate`: with no async validator the answer is the same, without a
 * promise per constraint (a `/auth/login` runs this on every request).
 */
function validated<T extends object>(dto: Constructor<T>, body: unknown, source: () => InputSource): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequest('The request body must be a JSON object.');
  }
  const plain = plainlyValid(dto, body);
  if (plain !== undefined) return plain;
  // class-transformer drops a field named like a member every object has (`constructor`,
  // `toString`, `__proto__`, …) without a word, so class-validator's whitelist never sees it.
  const inherited = Object.keys(body).find((name) => name in Object.prototype);
  if (inherited !== undefined) throw new InvalidRequest(`Invalid request: ${unknownField(inherited)}.`);
  const instance = plainToInstance(dto, body, { enableImplicitConversion: false, exposeDefaultValues: true });
  const errors = validateSync(instance, VALIDATION);
  if (errors.length > 0) throw new InvalidRequest(`Invalid request: ${firstProblem(errors, source())}.`);
  return instance;
}

/**
 * Validates a request body (or query) against a class-validator DTO. Unknown fields, missing
 * ones, wrong types and over-long values are a 400 invalid_request naming the field and what is
 * wrong with it; nothing is coerced silently. The body parser has already bounded the nesting.
 */
export function validateBody<T extends object>(dto: Constructor<T>, body: unknown, source: InputSource = 'json'): T {
  return validated(dto, body, () => source);
}

/** The parsed body of this request through its DTO; no body counts as `{}`. */
export function validateRequestBody<T extends object>(ctx: KeyportContext<unknown>, dto: Constructor<T>): T {
  const body = (ctx.request as { body?: unknown }).body;
  // Which format the values came in only matters for the message (a repeated form field is a list).
  return validated(dto, body ?? {}, () => (ctx.is('urlencoded') ? 'form' : 'json'));
}

/** The query string through its DTO: unknown and repeated parameters are a 400 too. */
export function validateQuery<T extends object>(ctx: KeyportContext<unknown>, dto: Constructor<T>): T {
  return validateBody(dto, { ...ctx.query }, 'query');
}
