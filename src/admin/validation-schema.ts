import type { ReferenceObject, SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import type { MetadataStorage as TransformerMetadataStorage } from 'class-transformer/types/MetadataStorage';
import { getMetadataStorage, IS_OPTIONAL, ValidationOptions, ValidationTypes } from 'class-validator';
import { TransformShape, transformShapeOf } from '../http/compiled-validator-transforms';

// Not exported from class-transformer's entry point (compiled-validator.ts reads it the same way).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage: transformerMetadata } = require('class-transformer/cjs/storage') as { defaultMetadataStorage: TransformerMetadataStorage };

type DtoClass = new () => object;
type Schema = SchemaObject | ReferenceObject;
type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

/**
 * What a rule means for the schema where class-validator's metadata cannot say it, carried in the
 * rule's own options (`schemaHint`): the values a custom constraint accepts, those a condition lets through.
 */
export interface SchemaHint {
  /** A custom constraint: the schema of the values it accepts. Without one, the constraint only narrows what the others accept. */
  schema?: SchemaObject;
  /** A condition (`ValidateIf`): values it lets through unchecked, besides an absent value or null. */
  alsoAccepts?: SchemaObject;
  /** A condition: whether it lets an absent value through. */
  optional?: boolean;
  /** A condition: whether it lets null through. */
  nullable?: boolean;
  /** What the schema cannot say (a narrower rule, a rule across fields), for the property's description. */
  note?: string;
}

const HINT = 'openApiSchema';

/** Options for a class-validator decorator that carry `hint` to the schema; class-validator keeps `context` with the rule. */
export function schemaHint(hint: SchemaHint): Pick<ValidationOptions, 'context'> {
  return { context: { [HINT]: hint } };
}

/**
 * The OpenAPI schemas of `dtos` and of every DTO they nest, by class name, read from the same
 * class-validator (and class-transformer) metadata that validates their bodies: a DTO's schema lists
 * exactly the properties the validator accepts (`additionalProperties: false`), required unless a
 * condition lets them be left out. A rule it cannot read (a custom constraint or a condition without
 * a `schemaHint`, a transform not described with `shapedTransform`) is refused here, at start-up.
 */
export function validationSchemas(dtos: DtoClass[]): Record<string, SchemaObject> {
  const reading = new SchemaReading();
  for (const dto of dtos) reading.refTo(dto);
  return reading.schemas;
}

class SchemaReading {
  readonly schemas: Record<string, SchemaObject> = {};
  private readonly classes = new Map<string, DtoClass>();

  refTo(dto: DtoClass): ReferenceObject {
    const known = this.classes.get(dto.name);
    if (known && known !== dto) throw new Error(`Two DTO classes are named ${dto.name}: their schemas would share a name.`);
    if (!known) {
      // Kept before reading, so that a class nested in itself finds its name.
      this.classes.set(dto.name, dto);
      this.schemas[dto.name] = this.objectSchema(dto);
    }
    return { $ref: `#/components/schemas/${dto.name}` };
  }

  private objectSchema(dto: DtoClass): SchemaObject {
    const byProperty = new Map<string, ValidationMetadata[]>();
    for (const metadata of getMetadataStorage().getTargetValidationMetadatas(dto, '', false, false)) {
      byProperty.set(metadata.propertyName, [...(byProperty.get(metadata.propertyName) ?? []), metadata]);
    }
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const [name, metadatas] of byProperty) {
      const property = this.propertySchema(dto, name, metadatas);
      properties[name] = property.schema;
      if (property.required) required.push(name);
    }
    // The validation pipe refuses any other field.
    return { type: 'object', properties, ...(required.length > 0 && { required }), additionalProperties: false };
  }

  private propertySchema(dto: DtoClass, name: string, metadatas: ValidationMetadata[]): { schema: Schema; required: boolean } {
    const value: SchemaObject = {};
    const items: SchemaObject = {};
    const alternatives: SchemaObject[] = [];
    const notes: string[] = [];
    let optional = false;
    let nullable = false;
    let expectation: string | undefined;
    let nested: ValidationMetadata | undefined;
    for (const metadata of metadatas) {
      switch (metadata.type) {
        case ValidationTypes.CONDITIONAL_VALIDATION: {
          const condition = conditionOf(dto, metadata);
          optional ||= condition.optional;
          nullable ||= condition.nullable;
          if (condition.alsoAccepts) alternatives.push(condition.alsoAccepts);
          if (condition.note) notes.push(condition.note);
          break;
        }
        case ValidationTypes.CUSTOM_VALIDATION: {
          const hint = hintOf(metadata);
          merge(metadata.each ? items : value, constraintSchema(dto, metadata, hint), dto, name);
          if (hint?.note) notes.push(hint.note);
          expectation ??= expectationOf(metadata);
          break;
        }
        case ValidationTypes.NESTED_VALIDATION:
          nested = metadata;
          break;
        case ValidationTypes.WHITELIST:
          break;
        default:
          throw unreadable(dto, name, `validated by a rule of type '${metadata.type}'`);
      }
    }
    if (nested) this.placeNested(dto, name, nested, nested.each ? items : value);
    if (Object.keys(items).length > 0) {
      if (value.type !== 'array') throw unreadable(dto, name, 'checked element by element without being checked as an array');
      value.items = items;
    }
    let schema: Schema = alternatives.length > 0 ? { oneOf: [...alternatives, value] } : value;
    // A $ref stands alone in OpenAPI 3.0: anything said beside it is said of an object made of it.
    if (isRefOnly(schema) && (nullable || expectation || notes.length > 0)) schema = { type: 'object', allOf: [schema] };
    const description = [expectation, ...notes].filter(Boolean).join(' ');
    if (description) (schema as SchemaObject).description = description;
    if (nullable) (schema as SchemaObject).nullable = true;
    return { schema, required: !optional };
  }

  /** A nested DTO (or, for a variant transform, one of several) in `target`: the value itself, or each element of it. */
  private placeNested(dto: DtoClass, name: string, nested: ValidationMetadata, target: SchemaObject): void {
    const shape = describedTransformOf(dto, name);
    if (shape?.kind === 'sent') throw unreadable(dto, name, 'validated as nested but kept as sent');
    if (shape?.kind === 'variant') {
      if (shape.each !== Boolean(nested.each)) throw unreadable(dto, name, 'built as variants otherwise than it is validated');
      merge(target, this.variantsSchema(shape.variants), dto, name);
      return;
    }
    const type = transformerMetadata.findTypeMetadata(dto, name);
    if (!type || type.typeFunction.length > 0) throw unreadable(dto, name, 'validated as nested without a @Type(() => Dto)');
    const ref = this.refTo(type.typeFunction() as DtoClass);
    // A $ref stands alone: the object type is its schema's.
    const { type: objectType, ...rest } = target;
    if ((objectType !== undefined && objectType !== 'object') || Object.keys(rest).length > 0) {
      throw unreadable(dto, name, 'nested with rules of its own beside the nested DTO');
    }
    delete target.type;
    Object.assign(target, ref);
  }

  /**
   * One of the variants, told apart by the property each of them fixes with @Equals (a message's `role`,
   * a part's `type`). A variant that fixes nothing is the one that refuses an unknown variant: left out.
   */
  private variantsSchema(variants: DtoClass[]): SchemaObject {
    const fixed = variants.map((variant) => ({ variant, values: fixedValuesOf(variant) })).filter(({ values }) => values.size > 0);
    const oneOf = fixed.map(({ variant }) => this.refTo(variant));
    const [first, ...others] = fixed;
    const [propertyName] = [...(first?.values.keys() ?? [])].filter((key) => others.every(({ values }) => values.has(key)));
    if (propertyName === undefined) return { oneOf };
    const mapping = Object.fromEntries(fixed.map(({ variant, values }, index) => [String(values.get(propertyName)), oneOf[index].$ref]));
    return { oneOf, discriminator: { propertyName, mapping } };
  }
}

/** class-validator's own constraints, as the schema says them: a bound also refuses a value of another type (`min` a string). */
const BUILT_IN_CONSTRAINTS: Record<string, (constraints: unknown[]) => SchemaObject> = {
  isString: () => ({ type: 'string' }),
  isBoolean: () => ({ type: 'boolean' }),
  isNumber: () => ({ type: 'number' }),
  isInt: () => ({ type: 'integer' }),
  isArray: () => ({ type: 'array' }),
  isObject: () => ({ type: 'object' }),
  // Not '', null or absent: of a string, at least one character; anything else is judged by its type.
  isNotEmpty: () => ({ minLength: 1 }),
  min: ([minimum]) => ({ type: 'number', minimum: minimum as number }),
  max: ([maximum]) => ({ type: 'number', maximum: maximum as number }),
  minLength: ([minLength]) => ({ type: 'string', minLength: minLength as number }),
  maxLength: ([maxLength]) => ({ type: 'string', maxLength: maxLength as number }),
  arrayMinSize: ([minItems]) => ({ type: 'array', minItems: minItems as number }),
  arrayMaxSize: ([maxItems]) => ({ type: 'array', maxItems: maxItems as number }),
  isIn: ([values]) => enumOf(values as unknown[]),
  equals: ([value]) => enumOf([value]),
  matches: ([pattern, modifiers]) => ({ type: 'string', ...patternOf(pattern as RegExp | string, modifiers as string | undefined) }),
};

function constraintSchema(dto: DtoClass, metadata: ValidationMetadata, hint: SchemaHint | undefined): SchemaObject {
  const builtIn = metadata.name === undefined ? undefined : BUILT_IN_CONSTRAINTS[metadata.name];
  if (builtIn) return builtIn(metadata.constraints ?? []);
  if (!hint) throw unreadable(dto, metadata.propertyName, `checked by the constraint '${metadata.name ?? 'unnamed'}', which no schemaHint() describes`);
  return hint.schema ?? {};
}

function conditionOf(dto: DtoClass, metadata: ValidationMetadata): Required<Pick<SchemaHint, 'optional' | 'nullable'>> & SchemaHint {
  if (metadata.name === IS_OPTIONAL) return { optional: true, nullable: true };
  const hint = hintOf(metadata);
  if (hint) return { ...hint, optional: hint.optional ?? false, nullable: hint.nullable ?? false };
  if (skipsOnlyAbsentValues(metadata)) return { optional: true, nullable: false };
  throw unreadable(dto, metadata.propertyName, 'validated under a condition that lets more than an absent value through, which no schemaHint() describes');
}

const PROBES: unknown[] = [null, '', 'x', 0, 1, false, true, [], {}];

/** A condition that skips an absent value and no other (IsOmittable), told by what it answers for each kind of value. */
function skipsOnlyAbsentValues(metadata: ValidationMetadata): boolean {
  const condition = metadata.constraints[0] as (object: object, value: unknown) => unknown;
  const answerFor = (value: unknown) => Boolean(condition({ [metadata.propertyName]: value }, value));
  return !answerFor(undefined) && PROBES.every(answerFor);
}

function hintOf(metadata: ValidationMetadata): SchemaHint | undefined {
  return (metadata.context as Record<string, SchemaHint> | undefined)?.[HINT];
}

/** What the rule's message says the property takes: `expected a number from 0 to 2` → "A number from 0 to 2." */
function expectationOf(metadata: ValidationMetadata): string | undefined {
  const { message } = metadata;
  if (typeof message !== 'string' || !message.startsWith('expected ')) return undefined;
  const what = message.slice('expected '.length);
  return `${what.charAt(0).toUpperCase()}${what.slice(1)}.`;
}

/** The property each rule of `variant` fixes with @Equals, and its value. */
function fixedValuesOf(variant: DtoClass): Map<string, unknown> {
  const rules = getMetadataStorage().getTargetValidationMetadatas(variant, '', false, false);
  return new Map(rules.filter((rule) => rule.name === 'equals').map((rule) => [rule.propertyName, rule.constraints[0]]));
}

function describedTransformOf(dto: DtoClass, name: string): TransformShape | undefined {
  const shape = transformShapeOf(dto, name);
  if (shape === 'undescribed') throw unreadable(dto, name, 'built by a @Transform not described with shapedTransform()');
  return shape;
}

function enumOf(values: unknown[]): SchemaObject {
  const types = new Set(values.map(jsonTypeOf));
  if (types.size !== 1) throw new Error(`An enumeration of values of several types (${[...types].join(', ')}) has no one schema type.`);
  return { type: [...types][0], enum: [...values] };
}

function jsonTypeOf(value: unknown): string {
  if (Number.isInteger(value)) return 'integer';
  if (Array.isArray(value)) return 'array';
  return value === null ? 'null' : typeof value;
}

function patternOf(pattern: RegExp | string, modifiers: string | undefined): SchemaObject {
  const flags = pattern instanceof RegExp ? pattern.flags : (modifiers ?? '');
  if (flags) throw new Error(`The pattern /${String(pattern)}/ has flags (${flags}), which a schema's pattern cannot say.`);
  return { pattern: pattern instanceof RegExp ? pattern.source : pattern };
}

/** Adds `fragment`'s keywords to `target`; two rules that say different things of one keyword are refused. */
function merge(target: SchemaObject, fragment: SchemaObject, dto: DtoClass, name: string): void {
  for (const [keyword, said] of Object.entries(fragment) as Array<[keyof SchemaObject, unknown]>) {
    const before: unknown = target[keyword];
    // An integer is a number: the narrower type stands.
    if (keyword === 'type' && [before, said].includes('integer') && [before, said].includes('number')) {
      target.type = 'integer';
      continue;
    }
    if (before !== undefined && JSON.stringify(before) !== JSON.stringify(said)) {
      throw unreadable(dto, name, `given two values of '${keyword}' (${JSON.stringify(before)} and ${JSON.stringify(said)})`);
    }
    (target as Record<string, unknown>)[keyword] = said;
  }
}

function isRefOnly(schema: Schema): schema is ReferenceObject {
  return '$ref' in schema;
}

function unreadable(dto: DtoClass, property: string, why: string): Error {
  return new Error(`The OpenAPI schema of ${dto.name}.${property} cannot be read from its validation: it is ${why}.`);
}
