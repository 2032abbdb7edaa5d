import type { ErrorObject } from 'ajv';

export interface DescribeOptions {
  /** What an unknown field's message suggests, e.g. where the known fields are listed. */
  unknownFieldHint: string;
  /** The name for an error about the whole document; default "(top level)". */
  root?: string;
}

/**
 * A JSON-schema error as `field: what is wrong` ("/http/port" -> "http.port"); additionalProperties
 * and required errors name the field itself. Shared by the config file and the admin API's bodies.
 */
export function describeSchemaError(error: ErrorObject, options: DescribeOptions): string {
  const at = error.instancePath.slice(1).replace(/\//g, '.');
  const field = (name: string) => (at ? `${at}.${name}` : name);
  switch (error.keyword) {
    case 'additionalProperties':
      return `${field(String(error.params['additionalProperty']))}: unknown field (${options.unknownFieldHint})`;
    case 'required':
      return `${field(String(error.params['missingProperty']))}: required field is missing`;
    case 'enum':
      return `${at || (options.root ?? '(top level)')}: must be one of ${(error.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type': {
      const types = ([] as unknown[]).concat(error.params['type']).join(' or ');
      return `${at || (options.root ?? '(top level)')}: must be ${types}`;
    }
    default:
      return `${at || (options.root ?? '(top level)')}: ${error.message ?? 'is invalid'}`;
  }
}
