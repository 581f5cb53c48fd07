import { getMetadataStorage } from 'class-validator';

/** A DTO class: class-validator's decorators on its fields, no constructor arguments. */
export type Constructor<T> = new () => T;

/** What a DTO made only of string fields says about one field. */
interface StringField {
  readonly required: boolean;
  /** `@MaxLength`'s bound; a field without one takes any length. */
  readonly maxLength: number;
}

/** A DTO whose every field is a string with at most these rules. */
interface StringFieldShape {
  readonly fields: ReadonlyMap<string, StringField>;
  readonly requiredCount: number;
}

/** The decorators a string-field shape may be made of; any other keeps a DTO on class-validator alone. */
const SHAPE_RULES = new Set(['isOptional', 'isDefined', 'isString', 'maxLength']);

const shapes = new WeakMap<Constructor<object>, StringFieldShape | null>();

/**
 * The DTO's fields as a string-field shape, read once from class-validator's own metadata (the
 * decorators stay the one statement of the rules), or null when a field has any other rule, or a
 * rule with options (`each`, groups, `always`, a condition) this check does not follow.
 */
function shapeOf(dto: Constructor<object>): StringFieldShape | null {
  const known = shapes.get(dto);
  if (known !== undefined) return known;
  const rules = getMetadataStorage().getTargetValidationMetadatas(dto, '', false, false);
  const byField = new Map<string, { optional: boolean; defined: boolean; string: boolean; maxLength: number }>();
  let shape: StringFieldShape | null = null;
  const simple = rules.length > 0 && rules.every((rule) => {
    if (!rule.name || !SHAPE_RULES.has(rule.name) || rule.each || rule.always !== undefined || rule.validateIf || (rule.groups?.length ?? 0) > 0) return false;
    const field = byField.get(rule.propertyName) ?? { optional: false, defined: false, string: false, maxLength: Infinity };
    byField.set(rule.propertyName, field);
    if (rule.name === 'isOptional') field.optional = true;
    if (rule.name === 'isDefined') field.defined = true;
    if (rule.name === 'isString') field.string = true;
    if (rule.name === 'maxLength') {
      const [max] = (rule.constraints ?? []) as unknown[];
      if (typeof max !== 'number' || !Number.isFinite(max)) return false;
      field.maxLength = Math.min(field.maxLength, max);
    }
    return true;
  });
  if (simple && [...byField.values()].every((field) => field.string)) {
    // A field with @IsDefined beside @IsOptional counts as required: class-validator 0.15 lets the
    // condition skip @IsDefined, earlier versions did not, and a body that has the field passes both.
    const fields = new Map([...byField].map(([name, field]) => [name, { required: field.defined || !field.optional, maxLength: field.maxLength }]));
    shape = { fields, requiredCount: [...fields.values()].filter((field) => field.required).length };
  }
  shapes.set(dto, shape);
  return shape;
}

/**
 * The DTO instance for a body that plainly passes, or undefined when the body must go through
 * class-transformer and class-validator (which then either accept it too or word the 400).
 *
 * Why: a `/auth/login` validates a body of up to three strings on every request, and building and
 * walking it through class-transformer and class-validator cost ~4 % of a new-session login's CPU
 * (docs/benchmarks.md, "Login bodies checked without class-validator when they plainly pass").
 *
 * It says yes only where class-validator is certain to as well, and builds what
 * `plainToInstance` would: every own key a known field holding a string no longer, in UTF-16 code
 * units, than its `@MaxLength` (class-validator counts a surrogate pair as one, so it never finds
 * such a string too long), and every required field there. Anything else, including `null` in an
 * optional field, is left to the full path. test/foundation/string_field_dtos.test.ts compares both
 * paths on random bodies.
 */
export function plainlyValid<T extends object>(dto: Constructor<T>, body: object): T | undefined {
  const shape = shapeOf(dto);
  if (shape === null) return undefined;
  const keys = Object.keys(body);
  let present = 0;
  for (const key of keys) {
    const field = shape.fields.get(key);
    const value = (body as Record<string, unknown>)[key];
    if (field === undefined || typeof value !== 'string' || value.length > field.maxLength) return undefined;
    if (field.required) present += 1;
  }
  if (present !== shape.requiredCount) return undefined;
  const instance = new dto() as Record<string, unknown>;
  for (const key of keys) instance[key] = (body as Record<string, unknown>)[key];
  return instance as T;
}
