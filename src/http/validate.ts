import { plainToInstance } from 'class-transformer';
import { validate, type ValidationError } from 'class-validator';
import { InvalidRequest } from '../lib/errors.js';

type Constructor<T> = new () => T;

function firstProblem(errors: ValidationError[], path = ''): string {
  const [first] = errors;
  if (!first) return 'is invalid';
  const name = path ? `${path}.${first.property}` : first.property;
  if (first.children && first.children.length > 0) return firstProblem(first.children, name);
  const constraint = Object.entries(first.constraints ?? {})[0];
  if (!constraint) return `${name} is invalid`;
  const [kind, message] = constraint;
  if (kind === 'whitelistValidation') return `unknown field "${name}"`;
  return message.startsWith(first.property) ? `${name}${message.slice(first.property.length)}` : `${name}: ${message}`;
}

/**
 * Validates a request body against a class-validator DTO. Unknown fields, wrong types and
 * over-long values are a 400 invalid_request naming the field; nothing is coerced silently.
 */
export async function validateBody<T extends object>(dto: Constructor<T>, body: unknown): Promise<T> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequest('The request body must be a JSON object.');
  }
  const instance = plainToInstance(dto, body, { enableImplicitConversion: false, exposeDefaultValues: true });
  const errors = await validate(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true, stopAtFirstError: true });
  if (errors.length > 0) throw new InvalidRequest(`Invalid request: ${firstProblem(errors)}.`);
  return instance;
}
