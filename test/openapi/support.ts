import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { OPENAPI_DOCUMENT_PATH } from '../../src/http/routes/api_docs.js';

/** The committed document, as served at /openapi.json. */
export type Schema = Record<string, unknown>;
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; responses: Record<string, Response>; headers: Record<string, Schema> };
}
export interface Operation {
  operationId: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean; example?: unknown; schema?: Schema }>;
  requestBody?: { content: Record<string, { schema: Schema; examples?: Record<string, { value: unknown; 'x-status'?: number }> }> };
  responses: Record<string, Response | { $ref: string }>;
  'x-keyport-query-dto'?: string;
}
export interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: Schema; example?: unknown; examples?: Record<string, { value: unknown }> }>;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

export function loadDocument(): OpenApiDocument {
  return JSON.parse(readFileSync(OPENAPI_DOCUMENT_PATH, 'utf8')) as OpenApiDocument;
}

/** A `#/components/...` reference followed (one level at a time). */
export function deref<T>(document: OpenApiDocument, value: T | { $ref: string }): T {
  let current: unknown = value;
  while (current && typeof current === 'object' && '$ref' in current) {
    const path = (current as { $ref: string }).$ref.replace(/^#\//, '').split('/');
    current = path.reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], document);
  }
  return current as T;
}

/**
 * A JSON Schema 2020-12 validator (the dialect of OpenAPI 3.1) that knows the document's
 * components, so a schema taken from it (with its `$ref`s) validates a value as is.
 */
export function schemaValidator(document: OpenApiDocument): (schema: Schema, value: unknown) => string | undefined {
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats.default(ajv);
  ajv.addKeyword('x-keyport-dto');
  ajv.addKeyword('x-keyport-status');
  ajv.addSchema({ $id: 'openapi.json', components: document.components }, 'openapi.json');
  const cache = new Map<string, ReturnType<typeof ajv.compile>>();
  return (schema, value) => {
    const text = JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/');
    let validate = cache.get(text);
    if (!validate) {
      validate = ajv.compile(JSON.parse(text) as Schema);
      cache.set(text, validate);
    }
    return validate(value) ? undefined : ajv.errorsText(validate.errors);
  };
}
