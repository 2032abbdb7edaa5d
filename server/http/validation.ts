import { Ajv, type AnySchema } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyError, FastifySchemaCompiler } from 'fastify';
import { describeSchemaError } from '../config/schema-errors.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

// As fastify's own defaults, but never allErrors (one error per request is enough, and cheaper).
const common = { useDefaults: true, removeAdditional: false, allErrors: false, allowUnionTypes: true } as const;
// A JSON body says what type it means: {"image": 42} is a mistake to name, not the image "42".
const forBody = new Ajv({ ...common, coerceTypes: false });
// Query strings and path parameters are text: `?version=2` is a number.
const forText = new Ajv({ ...common, coerceTypes: 'array' });
addFormats(forBody);
addFormats(forText);

/** Fastify's validator compiler: bodies strictly typed, text parts coerced. */
export const validatorCompiler: FastifySchemaCompiler<AnySchema> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? forBody : forText).compile(schema) as ReturnType<FastifySchemaCompiler<AnySchema>>;

/** A validation failure as `field: what is wrong` (the whole body or query string is named as such). */
export function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  return describeSchemaError(first as Parameters<typeof describeSchemaError>[0], {
    unknownFieldHint: 'the API reference at /docs lists the fields',
    root: error.validationContext ?? 'request',
  });
}
