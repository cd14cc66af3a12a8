import { isRecord } from './validation';

/** Deeper than this, or past this many values, the sample is cut with null: a recursive or hostile schema still answers fast. */
const MAX_DEPTH = 32;
const MAX_VALUES = 1_000;
/** `minLength` and `minItems` are honoured up to this. */
const MAX_LENGTH = 1_000;

const FILLER = 'Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ';

const STRING_FORMATS: Readonly<Record<string, string>> = {
  'date-time': '2026-01-01T00:00:00Z',
  date: '2026-01-01',
  time: '00:00:00Z',
  duration: 'P1D',
  email: 'user@example.com',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  uri: 'https://example.com/',
  uuid: '00000000-0000-4000-8000-000000000000',
};

interface Walk {
  root: unknown;
  values: number;
}

/**
 * A minimal value valid against a JSON Schema: an object holds its required properties only, an array its
 * `minItems` items, an enum its first value, a number the smallest its bounds allow (0 when unbounded).
 * Covers what structured outputs and tool parameters use (type, properties, required, items, enum, const,
 * anyOf/oneOf, $ref into the schema, bounds, minLength, format); `pattern` is not honoured.
 * Never throws: whatever it cannot make sense of becomes null.
 */
export function sampleOf(schema: unknown): unknown {
  return sample(schema, { root: schema, values: 0 }, 0);
}

function sample(schema: unknown, walk: Walk, depth: number): unknown {
  walk.values += 1;
  if (!isRecord(schema) || depth > MAX_DEPTH || walk.values > MAX_VALUES) return null;
  if (Object.hasOwn(schema, 'const')) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (typeof schema.$ref === 'string') return sample(resolveRef(walk.root, schema.$ref), walk, depth + 1);
  const branches = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (branches && branches.length > 0) return sample(branches[0], walk, depth + 1);

  switch (typeOf(schema)) {
    case 'object':
      return objectSample(schema, walk, depth);
    case 'array':
      return Array.from({ length: boundedLength(schema.minItems) }, () => sample(schema.items, walk, depth + 1));
    case 'string':
      return stringSample(schema);
    case 'integer':
      return numberSample(schema, true);
    case 'number':
      return numberSample(schema, false);
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/** The declared type (the first non-null one of a list), else the one its keywords imply. */
function typeOf(schema: Record<string, unknown>): unknown {
  const { type } = schema;
  if (Array.isArray(type)) return type.find((t) => t !== 'null') ?? type[0];
  if (type !== undefined) return type;
  if (isRecord(schema.properties) || Array.isArray(schema.required)) return 'object';
  if (schema.items !== undefined) return 'array';
  return undefined;
}

function objectSample(schema: Record<string, unknown>, walk: Walk, depth: number): Record<string, unknown> {
  const properties = isRecord(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required.filter((name): name is string => typeof name === 'string') : [];
  // fromEntries defines own properties, so a property named __proto__ stays a property.
  return Object.fromEntries(
    required.map((name) => [name, sample(Object.hasOwn(properties, name) ? properties[name] : undefined, walk, depth + 1)]),
  );
}

function stringSample(schema: Record<string, unknown>): string {
  const format = typeof schema.format === 'string' ? STRING_FORMATS[schema.format] : undefined;
  if (format !== undefined) return format;
  const min = boundedLength(schema.minLength);
  const max = typeof schema.maxLength === 'number' && schema.maxLength >= 0 ? schema.maxLength : Infinity;
  const length = Math.min(Math.max(min, 'Lorem'.length), max);
  return FILLER.repeat(Math.ceil(length / FILLER.length)).slice(0, length);
}

function numberSample(schema: Record<string, unknown>, integer: boolean): number {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf } = schema;
  const num = (value: unknown) => (typeof value === 'number' ? value : undefined);
  let low = num(minimum);
  let high = num(maximum);
  if (integer) {
    low = low !== undefined ? Math.ceil(low) : num(exclusiveMinimum) !== undefined ? Math.floor(exclusiveMinimum as number) + 1 : undefined;
    high = high !== undefined ? Math.floor(high) : num(exclusiveMaximum) !== undefined ? Math.ceil(exclusiveMaximum as number) - 1 : undefined;
  } else {
    const above = num(exclusiveMinimum);
    const below = num(exclusiveMaximum);
    high ??= below !== undefined ? below - 1 : undefined;
    low ??= above !== undefined ? (high !== undefined && high > above ? (above + high) / 2 : above + 1) : undefined;
  }
  let value = low ?? (high !== undefined && high < 0 ? high : 0);
  if (typeof multipleOf === 'number' && multipleOf > 0) value = Math.ceil(value / multipleOf) * multipleOf;
  return Number.isFinite(value) ? value : 0;
}

function boundedLength(value: unknown): number {
  return Number.isInteger(value) && (value as number) > 0 ? Math.min(value as number, MAX_LENGTH) : 0;
}

/** `#`, `#/$defs/name`, `#/definitions/name` and any other JSON pointer into the schema itself. */
function resolveRef(root: unknown, ref: string): unknown {
  if (ref !== '#' && !ref.startsWith('#/')) return undefined;
  let target = root;
  for (const part of ref.slice(2).split('/').filter(Boolean)) {
    const key = decodedPointerPart(part);
    if (!(isRecord(target) || Array.isArray(target)) || !Object.hasOwn(target, key)) return undefined;
    target = (target as Record<string, unknown>)[key];
  }
  return target;
}

function decodedPointerPart(part: string): string {
  let text = part;
  try {
    text = decodeURIComponent(part);
  } catch {
    // Not percent-encoded after all: taken as written.
  }
  return text.replaceAll('~1', '/').replaceAll('~0', '~');
}
