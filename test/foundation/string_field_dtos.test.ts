import 'reflect-metadata';
import { expect } from 'chai';
import { plainToInstance } from 'class-transformer';
import { IsDefined, IsIn, IsInt, IsOptional, IsString, MaxLength, validateSync } from 'class-validator';
import fc from 'fast-check';
import { plainlyValid } from '../../src/http/string_field_dtos.js';
import { validateBody } from '../../src/http/validate.js';

/** Like `/auth/login`'s body, with a required field too and short bounds so lengths cross them often. */
class StringFields {
  @IsOptional() @IsString() @MaxLength(4)
  short?: string;

  @IsString() @MaxLength(6)
  needed: string;

  @IsOptional() @IsString()
  unbounded?: string;
}

const FIELDS: ReadonlySet<string> = new Set(['short', 'needed', 'unbounded']);

/** What src/http/validate.ts does without the shortcut: class-transformer, then class-validator. */
function fullPath(body: object): { instance: StringFields; accepted: boolean } {
  const instance = plainToInstance(StringFields, body, { enableImplicitConversion: false, exposeDefaultValues: true });
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true, stopAtFirstError: false });
  return { instance, accepted: errors.length === 0 };
}

describe('foundation: string-field bodies checked without class-validator (plainlyValid)', () => {
  it('says yes only where class-transformer and class-validator do, with the same instance, on random bodies', () => {
    let answered = 0;
    // Strings that cross the bounds, in code units and in code points (a surrogate pair counts as one for @MaxLength).
    const text = fc.array(fc.constantFrom('a', 'é', '😀', ' ', '\u0000'), { maxLength: 8 }).map((parts) => parts.join(''));
    const value = fc.oneof(
      { weight: 6, arbitrary: text },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(null, undefined, 0, 7, true, [], ['a'], {}, { a: 'b' }) },
    );
    const key = fc.constantFrom('short', 'needed', 'needed', 'unbounded', 'other', '__proto__', 'constructor', 'toString');
    const body = fc.array(fc.tuple(key, value), { maxLength: 5 }).map((entries) => Object.fromEntries(entries) as object);
    fc.assert(fc.property(body, (input) => {
      const full = fullPath(input);
      const quick = plainlyValid(StringFields, input);
      // A body of known fields holding strings without surrogate pairs, which class-validator accepts, must take it.
      const plain = Object.entries(input).every(([name, held]) => FIELDS.has(name) && typeof held === 'string' && !/[\uD800-\uDFFF]/.test(held));
      if (full.accepted && plain) expect(quick, JSON.stringify(input)).not.to.equal(undefined);
      if (quick === undefined) return;
      answered += 1;
      expect(full.accepted, JSON.stringify(input)).to.equal(true);
      expect(Object.getPrototypeOf(quick)).to.equal(StringFields.prototype);
      expect({ ...quick }).to.deep.equal({ ...full.instance });
    }), { numRuns: 20_000 });
    // The property is about answers: enough bodies must have taken the shortcut.
    expect(answered).to.be.greaterThan(500);
  });

  it('takes the plain bodies a client sends, and leaves the rest to class-validator to word', () => {
    expect({ ...plainlyValid(StringFields, { needed: 'abc', short: 'ab' }) }).to.deep.equal({ needed: 'abc', short: 'ab' });
    expect(plainlyValid(StringFields, { short: 'ab' }), 'required field missing').to.equal(undefined);
    expect(plainlyValid(StringFields, { needed: 'abcdefg' }), 'too long').to.equal(undefined);
    expect(plainlyValid(StringFields, { needed: 'abc', short: null }), 'null in an optional field').to.equal(undefined);
    expect(plainlyValid(StringFields, { needed: 'abc', extra: 'x' }), 'unknown field').to.equal(undefined);
    expect(plainlyValid(StringFields, { needed: ['abc'] }), 'a repeated form field').to.equal(undefined);
    // Left to the full path, the same bodies still get their 400 message.
    expect(() => validateBody(StringFields, { needed: 'abc', extra: 'x' })).to.throw('unknown field "extra"');
    expect(() => validateBody(StringFields, { needed: 'abcdefg' })).to.throw('needed is too long (at most 6 characters)');
  });

  it('leaves a DTO with any other rule, or a rule with options, to class-validator alone, and holds @IsDefined', () => {
    class WithChoice {
      @IsString() @IsIn(['a', 'b'])
      mode: string;
    }
    class WithNumber {
      @IsInt()
      count: number;
    }
    class WithEach {
      @IsString({ each: true })
      names: string[];
    }
    class DefinedThoughOptional {
      // Whether @IsOptional skips @IsDefined has differed between class-validator versions: no shortcut without it.
      @IsOptional() @IsDefined() @IsString()
      name?: string;
    }
    class WithGroups {
      @IsString({ groups: ['admin'] })
      name: string;
    }
    expect(plainlyValid(WithChoice, { mode: 'c' })).to.equal(undefined);
    expect(plainlyValid(WithNumber, { count: 1 })).to.equal(undefined);
    expect(plainlyValid(WithEach, { names: 'a' })).to.equal(undefined);
    expect(plainlyValid(WithGroups, { name: 'a' })).to.equal(undefined);
    expect(plainlyValid(DefinedThoughOptional, {})).to.equal(undefined);
    expect({ ...plainlyValid(DefinedThoughOptional, { name: 'a' }) }).to.deep.equal({ name: 'a' });
    expect(() => validateBody(WithChoice, { mode: 'c' })).to.throw(/mode/);
  });
});
