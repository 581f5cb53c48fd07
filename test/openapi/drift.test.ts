import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata.js';
import { keyportRouters } from '../../src/app.js';
import { OPENAPI_DOCUMENT_PATH } from '../../src/http/routes/api_docs.js';
import { ERROR_CODES } from '../../src/lib/errors.js';
import { RATE_LIMIT_HEADER_NAMES, rateLimitHeaders } from '../../src/ratelimit/headers.js';
import { deref, HTTP_METHODS, loadDocument, schemaValidator, type OpenApiDocument, type Schema } from './support.js';

/**
 * docs/openapi.json is written by hand; these checks keep it from drifting from the code: the
 * routes the koa routers register, the error codes of src/lib/errors.ts, the rate-limit headers,
 * and the class-validator DTOs the routes validate with.
 */

/** Browser pages (cookie sessions, HTML forms), not an API: docs/dashboard.md and the interaction views. */
const UNDOCUMENTED_PREFIXES = ['/dashboard', '/interaction'];

function documentedOperations(document: OpenApiDocument): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) => HTTP_METHODS.filter((method) => method in item).map((method) => `${method.toUpperCase()} ${path}`));
}

function registeredOperations(): string[] {
  const operations = new Set<string>();
  for (const router of keyportRouters()) {
    for (const layer of router.stack) {
      const path = String(layer.path).replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      if (UNDOCUMENTED_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) continue;
      // HEAD comes with GET; a `router.use()` step has no methods.
      for (const method of layer.methods) if (method !== 'HEAD') operations.add(`${method} ${path}`);
    }
  }
  return [...operations];
}

/** The JSON types a (possibly composite) schema admits. */
function typesOf(document: OpenApiDocument, schema: Schema | undefined): Set<string> {
  const resolved = deref<Schema>(document, schema ?? {});
  const types = new Set<string>();
  if (resolved.type !== undefined) for (const type of [resolved.type].flat() as string[]) types.add(type);
  if ('const' in resolved) types.add(typeof resolved.const);
  for (const branch of (resolved.oneOf ?? resolved.anyOf ?? []) as Schema[]) for (const type of typesOf(document, branch)) types.add(type);
  return types;
}

/** The branch of a schema that admits `type` (for its enum, maxLength, format). */
function branchOf(document: OpenApiDocument, schema: Schema, type: string): Schema | undefined {
  const resolved = deref<Schema>(document, schema);
  if ([resolved.type].flat().includes(type)) return resolved;
  for (const branch of (resolved.oneOf ?? []) as Schema[]) {
    const found = branchOf(document, branch, type);
    if (found) return found;
  }
  return undefined;
}

/** What each class-validator rule means for the schema of its property. */
const RULE_TYPES: Readonly<Record<string, string[]>> = {
  isString: ['string'], isInt: ['integer'], isBoolean: ['boolean'], isObject: ['object'],
  isStringOrStringList: ['array', 'string'], isSecondsOrDuration: ['integer', 'string'], isBoundedStringList: ['array'], isWholeNumberText: ['string'],
};

function dtoMetadata(): Map<string, ValidationMetadata[]> {
  const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<{ name: string }, ValidationMetadata[]> };
  const byName = new Map<string, ValidationMetadata[]>();
  for (const [target, metadata] of storage.validationMetadatas) {
    // With the rules of its base classes (KeyOptionsBody under CreateAgentBody).
    const all = getMetadataStorage().getTargetValidationMetadatas(target as new () => unknown, '', true, false);
    expect(byName.has(target.name), `two DTO classes named ${target.name}`).to.equal(false);
    byName.set(target.name, all.length > 0 ? all : metadata);
  }
  return byName;
}

/** Property → its rules, for one DTO. */
function rulesByProperty(metadata: ValidationMetadata[]): Map<string, ValidationMetadata[]> {
  const rules = new Map<string, ValidationMetadata[]>();
  for (const rule of metadata) rules.set(rule.propertyName, [...(rules.get(rule.propertyName) ?? []), rule]);
  return rules;
}

function checkProperty(document: OpenApiDocument, where: string, schema: Schema, rules: ValidationMetadata[]): void {
  const types = typesOf(document, schema);
  const conditional = rules.filter((rule) => rule.type === 'conditionalValidation');
  // @IsOptional lets null through; @IsOmittable (a bare ValidateIf) and required fields do not.
  const acceptsNull = conditional.some((rule) => rule.name === 'isOptional');
  expect(types.has('null'), `${where}: null ${acceptsNull ? 'is accepted (@IsOptional)' : 'is refused'}`).to.equal(acceptsNull);
  for (const rule of rules) {
    const name = rule.name ?? '';
    const expected = RULE_TYPES[name];
    if (expected) expect([...types].filter((type) => type !== 'null').sort(), `${where}: types for @${name}`).to.deep.equal([...expected].sort());
    if (name === 'maxLength') expect(branchOf(document, schema, 'string')?.maxLength, `${where}: maxLength`).to.equal(rule.constraints[0]);
    if (name === 'isIn') expect(branchOf(document, schema, 'string')?.enum, `${where}: enum`).to.deep.equal([...(rule.constraints[0] as string[])]);
    if (name === 'min') expect(branchOf(document, schema, 'integer')?.minimum, `${where}: minimum`).to.equal(rule.constraints[0]);
    if (name === 'isEmail') expect(branchOf(document, schema, 'string')?.format, `${where}: format`).to.equal('email');
    if (name === 'isIso8601') expect(branchOf(document, schema, 'string')?.format, `${where}: format`).to.equal('date-time');
    if (rule.type === 'nestedValidation') expect(types.has('object'), `${where}: nested object`).to.equal(true);
  }
}

describe('OpenAPI document: valid, and in step with the code', () => {
  const document = loadDocument();

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(OPENAPI_DOCUMENT_PATH);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)).to.deep.equal([]);
    expect(result.valid).to.equal(true);
    expect(validator.version).to.equal('3.1');
  });

  it('documents every route Keyport\'s routers register, and nothing else', () => {
    const registered = registeredOperations().sort();
    const documented = documentedOperations(document).sort();
    expect(registered.length).to.be.greaterThan(20);
    expect(documented.filter((operation) => !registered.includes(operation)), 'documented but not registered').to.deep.equal([]);
    expect(registered.filter((operation) => !documented.includes(operation)), 'registered but not documented').to.deep.equal([]);
  });

  it('gives every operation a unique operationId, a summary and the responses it can give', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of HTTP_METHODS) {
        const operation = item[method];
        if (!operation) continue;
        expect(ids.has(operation.operationId), `${method} ${path} operationId`).to.equal(false);
        ids.add(operation.operationId);
        expect(Object.keys(operation.responses).length, `${method} ${path}`).to.be.greaterThan(0);
        // A path parameter is declared for every {name} in the template.
        const names = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
        expect((operation.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name), `${method} ${path}`).to.deep.equal(names);
      }
    }
  });

  it('lists every error code of src/lib/errors.ts with its HTTP status', () => {
    const codes = document.components.schemas.ErrorCode!;
    expect([...(codes.enum as string[])].sort()).to.deep.equal(Object.keys(ERROR_CODES).sort());
    const statuses = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]));
    expect(codes['x-keyport-status']).to.deep.equal(statuses);
  });

  it('describes every rate-limit header Keyport sends, and 429 carries them with Retry-After', () => {
    const sent = Object.keys(rateLimitHeaders({ limit: 1, remaining: 0, resetEpochSeconds: 1, windows: [{ policy: 'minute', limit: 1, remaining: 0, windowSeconds: 60, resetSeconds: 1 }] } as unknown as Parameters<typeof rateLimitHeaders>[0]));
    for (const name of [...sent, ...RATE_LIMIT_HEADER_NAMES]) expect(document.components.headers, name).to.have.property(name);
    const tooMany = document.components.responses.TooManyRequests!;
    expect(Object.keys(tooMany.headers ?? {})).to.include.members([...RATE_LIMIT_HEADER_NAMES]);
  });

  it('describes every request body and query with the properties, types and bounds of its class-validator DTO', () => {
    const dtos = dtoMetadata();
    const described = new Set<string>();
    const schemas = document.components.schemas;
    for (const [name, schema] of Object.entries(schemas)) {
      const dto = schema['x-keyport-dto'] as string | undefined;
      if (!dto) continue;
      described.add(dto);
      const rules = rulesByProperty(dtos.get(dto) ?? []);
      expect(rules.size, `${name}: no DTO class named ${dto}`).to.be.greaterThan(0);
      const properties = schema.properties as Record<string, Schema>;
      expect(Object.keys(properties).sort(), `${name} vs ${dto}: properties`).to.deep.equal([...rules.keys()].sort());
      expect(schema.additionalProperties, `${name}: unknown fields are refused`).to.equal(false);
      // Required: a field without a condition (@IsOptional, @IsOmittable) is validated when absent, and refused.
      const required = [...rules].filter(([, list]) => !list.some((rule) => rule.type === 'conditionalValidation')).map(([property]) => property).sort();
      expect([...((schema.required as string[] | undefined) ?? [])].sort(), `${name} vs ${dto}: required`).to.deep.equal(required);
      for (const [property, list] of rules) checkProperty(document, `${name}.${property}`, properties[property]!, list);
    }
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of HTTP_METHODS) {
        const dto = item[method]?.['x-keyport-query-dto'];
        if (!dto) continue;
        described.add(dto);
        const rules = rulesByProperty(dtos.get(dto) ?? []);
        const parameters = (item[method]!.parameters ?? []).filter((parameter) => parameter.in === 'query');
        expect(parameters.map((parameter) => parameter.name).sort(), `${method} ${path} vs ${dto}`).to.deep.equal([...rules.keys()].sort());
        for (const parameter of parameters) checkProperty(document, `${method} ${path} ?${parameter.name}`, parameter.schema!, rules.get(parameter.name)!);
      }
    }
    // Every API DTO is described (the dashboard's and the login pages' HTML forms end in "Form").
    const apiDtos = [...dtos.keys()].filter((name) => /(Body|Query)$/.test(name));
    expect(apiDtos.length).to.be.greaterThan(8);
    expect(apiDtos.filter((name) => !described.has(name)), 'DTOs without a schema').to.deep.equal([]);
  });

  it('has examples that match their own schemas', () => {
    const validate = schemaValidator(document);
    let checked = 0;
    const check = (where: string, schema: Schema | undefined, value: unknown): void => {
      if (!schema) return;
      const problem = validate(schema, value);
      expect(problem, where).to.equal(undefined);
      checked += 1;
    };
    const responses = (where: string, response: Schema): void => {
      for (const [type, media] of Object.entries((response as { content?: Record<string, { schema?: Schema; example?: unknown; examples?: Record<string, { value: unknown }> }> }).content ?? {})) {
        if (media.example !== undefined) check(`${where} ${type}`, media.schema, media.example);
        for (const [name, example] of Object.entries(media.examples ?? {})) check(`${where} ${type} ${name}`, media.schema, deref<{ value: unknown }>(document, example).value);
      }
    };
    for (const [name, response] of Object.entries(document.components.responses)) responses(`components.responses.${name}`, response as unknown as Schema);
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of HTTP_METHODS) {
        const operation = item[method];
        if (!operation) continue;
        for (const [status, response] of Object.entries(operation.responses)) if (!('$ref' in response)) responses(`${method} ${path} ${status}`, response as unknown as Schema);
        // Request examples that the server accepts must match the schema; refused ones may not.
        for (const [name, example] of Object.entries(operation.requestBody?.content['application/json']?.examples ?? {})) {
          if ((example['x-status'] ?? 200) < 300) check(`${method} ${path} request ${name}`, operation.requestBody!.content['application/json']!.schema, example.value);
        }
      }
    }
    expect(checked).to.be.greaterThan(30);
  });
});
