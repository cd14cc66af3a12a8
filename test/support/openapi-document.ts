import { changedAt, Json, JsonObject, Path } from './json-paths';

/** The parts of an OpenAPI 3.0 document the suites read. */
export interface Schema {
  $ref?: string;
  type?: string;
  nullable?: boolean;
  enum?: Json[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  maxProperties?: number;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  description?: string;
}

export interface MediaType {
  schema?: Schema;
}

export interface Operation {
  operationId: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, { description: string; content?: Record<string, MediaType>; headers?: Record<string, unknown> }>;
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, { type: string; scheme: string }> };
}

const REF_PREFIX = '#/components/schemas/';

/** The schema a `$ref` names (itself when it is none), and that name. */
export function resolve(document: OpenApiDocument, schema: Schema): { schema: Schema; name?: string } {
  if (schema.$ref === undefined) return { schema };
  const name = schema.$ref.slice(REF_PREFIX.length);
  const found = document.components.schemas[name];
  if (!schema.$ref.startsWith(REF_PREFIX) || !found) throw new Error(`The $ref ${schema.$ref} names no schema of the document.`);
  return resolve(document, found).name === undefined ? { schema: found, name } : resolve(document, found);
}

/** Every `$ref` anywhere in `value`. */
export function refsIn(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => (key === '$ref' && typeof child === 'string' ? [child] : refsIn(child)));
}

/**
 * Whether `value` is one of the values `schema` describes, as OpenAPI 3.0 reads its schemas (JSON Schema's
 * keywords the gateway's document uses, `nullable` for null): a check written for these suites, as no
 * OpenAPI validator is among the project's packages.
 */
export function accepts(document: OpenApiDocument, schema: Schema, value: Json): boolean {
  if (schema.$ref !== undefined) return accepts(document, resolve(document, schema).schema, value);
  if (value === null) return schema.nullable === true;
  if (schema.allOf && !schema.allOf.every((part) => accepts(document, part, value))) return false;
  if (schema.anyOf && !schema.anyOf.some((part) => accepts(document, part, value))) return false;
  if (schema.oneOf && schema.oneOf.filter((part) => accepts(document, part, value)).length !== 1) return false;
  if (schema.enum && !schema.enum.some((member) => JSON.stringify(member) === JSON.stringify(value))) return false;
  if (schema.type !== undefined && !isOfType(value, schema.type)) return false;
  if (typeof value === 'string') return acceptsString(schema, value);
  if (typeof value === 'number') return (schema.minimum === undefined || value >= schema.minimum) && (schema.maximum === undefined || value <= schema.maximum);
  if (Array.isArray(value)) {
    if ((schema.minItems !== undefined && value.length < schema.minItems) || (schema.maxItems !== undefined && value.length > schema.maxItems)) return false;
    return schema.items === undefined || value.every((element) => accepts(document, schema.items!, element));
  }
  if (typeof value === 'object') return acceptsObject(document, schema, value);
  return true;
}

function acceptsString(schema: Schema, value: string): boolean {
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) return false;
  if (schema.maxLength !== undefined && length > schema.maxLength) return false;
  return schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(value);
}

function acceptsObject(document: OpenApiDocument, schema: Schema, value: JsonObject): boolean {
  if (schema.required?.some((name) => !(name in value))) return false;
  if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties) return false;
  return Object.entries(value).every(([key, field]) => {
    const declared = schema.properties?.[key];
    if (declared) return accepts(document, declared, field);
    const others = schema.additionalProperties;
    return others === undefined || others === true || (others !== false && accepts(document, others, field));
  });
}

function isOfType(value: Json, type: string): boolean {
  switch (type) {
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return typeof value === type;
  }
}

/** A value `schema` accepts, as small as it can be: the required properties only, the first of several alternatives. */
export function sampleOf(document: OpenApiDocument, schema: Schema, pinned: Record<string, JsonObject> = {}): Json {
  const { schema: resolved, name } = resolve(document, schema);
  if (resolved.allOf?.length === 1) return sampleOf(document, resolved.allOf[0], pinned);
  if (resolved.oneOf) return sampleOf(document, resolved.oneOf[0], pinned);
  if (resolved.enum) return resolved.enum[0];
  switch (resolved.type) {
    case 'string':
      return 'a'.repeat(Math.max(resolved.minLength ?? 1, 1));
    case 'integer':
    case 'number':
      return withinBounds(resolved, 0) ? 0 : resolved.minimum!;
    case 'boolean':
      return true;
    case 'array':
      return Array.from({ length: resolved.minItems ?? 0 }, () => sampleOf(document, resolved.items ?? {}, pinned));
    case 'object': {
      const required = Object.entries(resolved.properties ?? {}).filter(([key]) => resolved.required?.includes(key));
      return { ...Object.fromEntries(required.map(([key, property]) => [key, sampleOf(document, property, pinned)])), ...(name ? pinned[name] : {}) };
    }
    default:
      throw new Error(`No sample of a schema without a type: ${JSON.stringify(resolved)}`);
  }
}

function withinBounds(schema: Schema, value: number): boolean {
  return (schema.minimum === undefined || value >= schema.minimum) && (schema.maximum === undefined || value <= schema.maximum);
}

/** One body of a corpus: what changed from a valid body, and the body. */
export interface Candidate {
  change: string;
  body: Json;
  /** For an unknown field added to an object: the object's properties in the schema. */
  declared?: string[];
}

/** One value of each JSON type, some nested: each either fits a place in a body or does not. */
const ANY_TYPE: Json[] = [true, false, 0, 7, -1, 1.5, '', 'x', '!', [], ['x'], [7], [{}], [[7]], {}, { k: 'x' }];

const UNKNOWN_FIELD = 'tg_unknown_field';

/**
 * Bodies one change away from `valid`, for every place `schema` describes in it: each property left
 * out, set to null, to a value of each type, to each bound and just past it, to each member of an
 * enumeration and to none; an unknown field in each object; and the same inside each nested object
 * and element, and each alternative (a message's role, a content part's type). A schema's `pinned`
 * properties are in every sample of it, never left out or null: rules across fields the schema
 * cannot state, kept true.
 */
export function* corpusOf(document: OpenApiDocument, schema: Schema, valid: Json, pinned: Record<string, JsonObject> = {}): Generator<Candidate> {
  yield* candidatesAt(document, schema, valid, [], { pinned, fixed: false });
}

interface Walk {
  pinned: Record<string, JsonObject>;
  /** Whether the place is a pinned property: it keeps a value. */
  fixed: boolean;
}

function* candidatesAt(document: OpenApiDocument, schema: Schema, root: Json, path: Path, walk: Walk): Generator<Candidate> {
  if (path.length > 12) throw new Error(`The schema nests deeper than the corpus goes, at ${paramAt(path)}`);
  const { schema: resolved } = resolve(document, schema);
  if (path.length > 0) {
    for (const value of valuesFor(document, resolved)) {
      if (value === null && walk.fixed) continue;
      yield { change: `${paramAt(path)} = ${JSON.stringify(value).slice(0, 60)}`, body: changedAt(root, path, () => value) };
    }
    if (!walk.fixed) yield { change: `${paramAt(path)} left out`, body: changedAt(root, path, () => undefined) };
  }
  for (const branch of alternativesOf(document, schema)) {
    const { schema: shape, name } = resolve(document, branch);
    const placed = path.length === 0 ? root : changedAt(root, path, () => sampleOf(document, branch, walk.pinned));
    if (shape.type === 'object' && shape.properties) {
      const declared = Object.keys(shape.properties);
      yield { change: `${paramAt([...path, UNKNOWN_FIELD])} added`, body: changedAt(placed, [...path, UNKNOWN_FIELD], () => 'x'), declared };
      const fixed = Object.keys((name && walk.pinned[name]) ?? {});
      for (const [key, property] of Object.entries(shape.properties)) {
        yield* candidatesAt(document, property, placed, [...path, key], { ...walk, fixed: fixed.includes(key) });
      }
    } else if (shape.type === 'array' && shape.items) {
      const withOne = changedAt(placed, path, () => [sampleOf(document, shape.items!, walk.pinned)]);
      yield* candidatesAt(document, shape.items, withOne, [...path, 0], { ...walk, fixed: false });
    } else if (shape.type === 'object' && typeof shape.additionalProperties === 'object') {
      // A key every map of the gateway takes: a token id is digits, a metadata key a short string.
      const withOne = changedAt(placed, path, () => ({ '1': sampleOf(document, shape.additionalProperties as Schema, walk.pinned) }));
      yield* candidatesAt(document, shape.additionalProperties, withOne, [...path, '1'], { ...walk, fixed: false });
    }
  }
}

/** The alternatives of a place: each of a oneOf, or the one schema (through an allOf of one), unresolved. */
function alternativesOf(document: OpenApiDocument, schema: Schema): Schema[] {
  const { schema: resolved } = resolve(document, schema);
  if (resolved.oneOf) return resolved.oneOf;
  if (resolved.allOf?.length === 1) return alternativesOf(document, resolved.allOf[0]);
  return [schema];
}

/** The values worth trying at a place of `schema`: samples, null, one of each type, its bounds and just past them. */
function valuesFor(document: OpenApiDocument, schema: Schema): Json[] {
  const values: Json[] = [null, ...ANY_TYPE];
  const shapes = [schema, ...alternativesOf(document, schema).map((branch) => resolve(document, branch).schema)];
  for (const shape of shapes) {
    values.push(...(shape.enum ?? []));
    if (shape.enum) values.push('none-of-these');
    for (const bound of [shape.minimum, shape.maximum]) {
      if (bound !== undefined && Number.isSafeInteger(Math.trunc(bound)) && Math.abs(bound) < 2 ** 52) values.push(bound, bound - 1, bound + 1, bound - 0.5, bound + 0.5);
    }
    for (const length of [shape.minLength, shape.maxLength]) {
      if (length !== undefined) values.push(...[length - 1, length, length + 1].filter((n) => n >= 0).map((n) => 'a'.repeat(n)));
    }
    if (shape.type === 'array' && shape.items) {
      const element = sampleOf(document, shape.items);
      for (const size of [shape.minItems, shape.maxItems]) {
        if (size !== undefined) values.push(...[size - 1, size, size + 1].filter((n) => n >= 0).map((n) => Array.from({ length: n }, () => element)));
      }
    }
    if (shape.maxProperties !== undefined) {
      const entry = typeof shape.additionalProperties === 'object' ? sampleOf(document, shape.additionalProperties) : 'x';
      values.push(Object.fromEntries(Array.from({ length: shape.maxProperties + 1 }, (_, index) => [String(index), entry])));
    }
  }
  return values;
}

/** As the gateway names a field in its errors: `messages[0].content`. */
export function paramAt(path: Path): string {
  return path.reduce<string>((param, segment) => (typeof segment === 'number' ? `${param}[${segment}]` : param ? `${param}.${segment}` : segment), '');
}
