import type { MetadataStorage as TransformerMetadataStorage } from 'class-transformer/types/MetadataStorage';
import type { TypeMetadata } from 'class-transformer/types/interfaces';
import { getMetadataStorage, ValidationArguments, ValidationTypes, ValidatorConstraintInterface } from 'class-validator';
import type * as ClassValidatorUtils from 'class-validator/types/validation/ValidationUtils';
import { TransformShape, transformShapeOf } from './compiled-validator-transforms';

// Neither library exports these from its entry point (@nestjs/mapped-types reads the first the same way).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage: transformerMetadata } = require('class-transformer/cjs/storage') as { defaultMetadataStorage: TransformerMetadataStorage };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ValidationUtils } = require('class-validator/cjs/validation/ValidationUtils') as typeof ClassValidatorUtils;

type DtoClass = new () => object;
type JsonObject = Record<string, unknown>;
type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

/** A step of a path into the body: a number indexes an array. */
export type PathSegment = string | number;

/** The first problem class-validator would report, where it is and what its error says. */
export type FieldProblem =
  | { kind: 'invalid'; path: PathSegment[]; constraint: string; missing: boolean }
  | { kind: 'unknownField'; path: PathSegment[]; allowed: string[] };

export type CompiledOutcome = { value: JsonObject; problem?: undefined } | { value?: undefined; problem: FieldProblem };

/** Validates a parsed JSON object, already stripped of prototype keys as Nest's ValidationPipe strips them. */
export type CompiledValidator = (body: JsonObject) => CompiledOutcome;

/**
 * Validates a body as Nest's ValidationPipe does with `whitelist`, `forbidNonWhitelisted` and
 * `transform` (class-transformer's `plainToInstance`, then class-validator), and then as
 * OpenAiValidationPipe does (an inherited member's name is an unknown field, unset fields are left
 * out), without building an instance: the class's metadata is read once, here, into rules over
 * plain objects, which call class-validator's own constraint objects as its executor does. What it
 * cannot read that way (an unsaid @Transform, @Expose, an async check, …) it refuses, here.
 */
export function compileValidator(dto: DtoClass): CompiledValidator {
  const root = new Compiler().readerFor(dto);
  return (body) => {
    const reading: Reading = { nodes: new Map(), uncopied: false };
    const value = root.build(body, reading);
    const problem = reading.problems?.get(value) ?? (reading.uncopied ? firstUncopiedField(body, value, reading) : undefined);
    return problem ? { problem } : { value };
  };
}

/** One validation's state. */
interface Reading {
  /** Every object built as a DTO, by the reader that built it. */
  nodes: Map<object, DtoReader>;
  /** The first problem of each such object that has one, its path relative to it. */
  problems?: Map<object, FieldProblem>;
  /** Whether a key naming an inherited member was left out of one. */
  uncopied: boolean;
}

class Compiler {
  private readonly readers = new Map<Function, DtoReader>();

  readerFor(dto: DtoClass): DtoReader {
    let reader = this.readers.get(dto);
    if (!reader) {
      // Kept before compiling, so that a class nested in itself finds its reader.
      reader = new DtoReader(dto);
      this.readers.set(dto, reader);
      reader.compile(this);
    }
    return reader;
  }
}

interface PropertyRule {
  name: string;
  /** Its place among the class's rules, in metadata order. */
  index: number;
  /** Whether the class declares it as a field (an instance has it from the start). */
  declared: boolean;
  /** The value as class-transformer builds it from the one sent. */
  read: (sent: unknown, reading: Reading) => unknown;
  conditions: Array<(object: object, value: unknown) => unknown>;
  checks: Check[];
  /** The last @ValidateNested: its message is the one class-validator keeps for a value that is not an object. */
  nested?: ValidationMetadata;
}

interface Check {
  /** The key of the constraint in class-validator's error. */
  name: string;
  each: boolean;
  constraint: ValidatorConstraintInterface;
  metadata: ValidationMetadata;
  /** class-validator's arguments for the check, set around each call rather than built for it. */
  args: ValidationArguments;
}

/** Builds and validates the plain objects of one DTO class. */
class DtoReader {
  /** The class's fields, in the order its errors list them. */
  fields: string[] = [];
  private rules: PropertyRule[] = [];
  private declaredRules: PropertyRule[] = [];
  private hasUndeclaredRules = false;
  private rulesByName = new Map<string, PropertyRule>();
  /** One instance, for the life of the validator: class-transformer tells an inherited member by it. */
  private readonly probe: object;

  constructor(private readonly dto: DtoClass) {
    this.probe = new dto();
  }

  compile(compiler: Compiler): void {
    refuseUnreadableClass(this.dto, this.probe);
    const byProperty = new Map<string, ValidationMetadata[]>();
    for (const metadata of getMetadataStorage().getTargetValidationMetadatas(this.dto, '', false, false)) {
      byProperty.set(metadata.propertyName, [...(byProperty.get(metadata.propertyName) ?? []), metadata]);
    }
    const declared = new Set(Object.keys(this.probe));
    for (const [name, metadatas] of byProperty) {
      if (isLeftOut(this.probe, name)) throw unreadable(this.dto, name, 'named after a member every object inherits');
      const read = readerOfProperty(compiler, this.dto, name);
      const rule: PropertyRule = { name, index: this.rules.length, declared: declared.has(name), read, ...rulesOf(this.dto, metadatas) };
      this.rules.push(rule);
      this.rulesByName.set(name, rule);
    }
    this.fields = [...byProperty.keys()];
    // An instance has its declared fields first, in declaration order: the order of the keys of a body as validated.
    this.declaredRules = [...declared].map((name) => {
      const rule = this.rulesByName.get(name);
      if (!rule) throw unreadable(this.dto, name, 'declared without a validation rule, so that whitelisting refuses every body');
      return rule;
    });
    this.hasUndeclaredRules = this.rules.length > this.declaredRules.length;
  }

  /** The object class-transformer builds from `sent`, without its unset fields; its first problem kept in `reading`. */
  build(sent: JsonObject, reading: Reading): JsonObject {
    const values: unknown[] = new Array(this.rules.length);
    let unknownField: string | undefined;
    for (const key of Object.keys(sent)) {
      const rule = this.rulesByName.get(key);
      if (rule) values[rule.index] = rule.read(sent[key], reading);
      else if (this.isLeftOut(key)) reading.uncopied = true;
      else unknownField ??= key;
    }
    const node: JsonObject = {};
    for (const rule of this.declaredRules) setDefined(node, rule.name, values[rule.index]);
    if (this.hasUndeclaredRules) {
      for (const key of Object.keys(sent)) {
        const rule = this.rulesByName.get(key);
        if (rule && !rule.declared) setDefined(node, key, values[rule.index]);
      }
    }
    reading.nodes.set(node, this);
    const problem = this.firstProblem(node, values, unknownField, reading);
    if (problem) (reading.problems ??= new Map()).set(node, problem);
    return node;
  }

  isLeftOut(key: string): boolean {
    return isLeftOut(this.probe, key);
  }

  /** As class-validator orders its errors and the pipe picks one: a wrong value before an unknown field. */
  private firstProblem(node: JsonObject, values: unknown[], unknownField: string | undefined, reading: Reading): FieldProblem | undefined {
    for (const rule of this.rules) {
      const problem = this.problemOf(rule, node, values[rule.index], reading);
      if (problem) return problem;
    }
    return unknownField === undefined ? undefined : { kind: 'unknownField', path: [unknownField], allowed: this.fields };
  }

  private problemOf(rule: PropertyRule, node: JsonObject, value: unknown, reading: Reading): FieldProblem | undefined {
    for (const condition of rule.conditions) if (!condition(node, value)) return undefined;
    // class-validator keeps one message per constraint name, the last; the pipe reads the first name's.
    let failed: string | undefined;
    let message = '';
    for (const check of rule.checks) {
      if (passes(check, node, value)) continue;
      failed ??= check.name;
      if (check.name === failed) message = messageOf(check, this.dto, node, value);
    }
    if (rule.nested && value !== undefined && !(value instanceof Object)) {
      failed ??= ValidationTypes.NESTED_VALIDATION;
      if (failed === ValidationTypes.NESTED_VALIDATION) message = nestedMessageOf(rule.nested, value);
    }
    if (failed !== undefined) return { kind: 'invalid', path: [rule.name], constraint: message, missing: value === undefined };
    if (rule.nested && value !== undefined) return within(rule.name, nestedProblem(rule.nested, value as object, reading));
    return undefined;
  }
}

/** class-validator's checks of one property, grouped as its executor runs them. */
function rulesOf(dto: DtoClass, metadatas: ValidationMetadata[]): Pick<PropertyRule, 'conditions' | 'checks' | 'nested'> {
  const conditions: PropertyRule['conditions'] = [];
  const definedChecks: Check[] = [];
  const checks: Check[] = [];
  let nested: ValidationMetadata | undefined;
  for (const metadata of metadatas) {
    switch (metadata.type) {
      case ValidationTypes.CONDITIONAL_VALIDATION:
        conditions.push(metadata.constraints[0] as PropertyRule['conditions'][number]);
        break;
      case ValidationTypes.IS_DEFINED:
        definedChecks.push(...checksOf(dto, metadata));
        break;
      case ValidationTypes.CUSTOM_VALIDATION:
        checks.push(...checksOf(dto, metadata));
        break;
      case ValidationTypes.NESTED_VALIDATION:
        nested = metadata;
        break;
      case ValidationTypes.WHITELIST:
        break;
      default:
        throw unreadable(dto, metadata.propertyName, `validated by a rule of type '${metadata.type}'`);
    }
  }
  return { conditions, checks: [...definedChecks, ...checks], nested };
}

function checksOf(dto: DtoClass, metadata: ValidationMetadata): Check[] {
  return getMetadataStorage()
    .getTargetValidatorConstraints(metadata.constraintCls)
    .map((constraint) => {
      if (constraint.async) throw unreadable(dto, metadata.propertyName, `checked by the async constraint '${constraint.name}'`);
      return {
        name: constraint.name || metadata.type,
        each: Boolean(metadata.each),
        constraint: constraint.instance,
        metadata,
        args: { targetName: dto.name, property: metadata.propertyName, object: NO_OBJECT, value: undefined, constraints: metadata.constraints },
      };
    });
}

const NO_OBJECT = Object.freeze({});

function passes(check: Check, node: JsonObject, value: unknown): boolean {
  check.args.object = node;
  check.args.value = value;
  const valid = check.each && Array.isArray(value) ? isEachValid(check, value) : isValid(check, value);
  // Not kept past the call: it would hold on to the last body.
  check.args.object = NO_OBJECT;
  check.args.value = undefined;
  return valid;
}

function isEachValid(check: Check, values: unknown[]): boolean {
  for (const value of values) if (!isValid(check, value)) return false;
  return true;
}

function isValid(check: Check, value: unknown): boolean {
  const valid = check.constraint.validate(value, check.args);
  if (isObject(valid) && typeof (valid as { then?: unknown }).then === 'function') {
    const where = `${check.args.targetName}.${check.args.property}`;
    throw new Error(`The constraint '${check.name}' of ${where} answered with a promise, which the compiled validator cannot wait for.`);
  }
  return Boolean(valid);
}

/** As class-validator's executor writes it (createValidationError). */
function messageOf(check: Check, dto: DtoClass, node: JsonObject, value: unknown): string {
  const { propertyName: property, constraints } = check.metadata;
  const args: ValidationArguments = { targetName: dto.name, property, object: node, value, constraints };
  const message = check.metadata.message || (check.constraint.defaultMessage instanceof Function ? check.constraint.defaultMessage(args) : '');
  return ValidationUtils.replaceMessageSpecialTokens(message, args);
}

/** As class-validator writes the error of a nested value that is not an object: its arguments name the class as the object. */
function nestedMessageOf(nested: ValidationMetadata, value: unknown): string {
  const target = nested.target as Function;
  const { propertyName: property, constraints } = nested;
  const args: ValidationArguments = { targetName: target.constructor.name, property, object: target, value, constraints };
  return ValidationUtils.replaceMessageSpecialTokens(nested.message || '', args);
}

/** class-validator's look into a nested value: each element of an array, the rules of the DTO an object was built as. */
function nestedProblem(nested: ValidationMetadata, value: object, reading: Reading): FieldProblem | undefined {
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const element: unknown = value[index];
      if (element === undefined) continue;
      const problem: FieldProblem | undefined =
        element instanceof Object
          ? nestedProblem(nested, element, reading)
          : { kind: 'invalid', path: [], constraint: nestedMessageOf(nested, element), missing: false };
      if (problem) return within(index, problem);
    }
    return undefined;
  }
  if (reading.nodes.has(value)) return reading.problems?.get(value);
  // An object built as no DTO: class-validator finds no rule for it, so each of its keys is unknown.
  const [key] = Object.keys(value);
  return key === undefined ? undefined : { kind: 'unknownField', path: [key], allowed: [] };
}

/**
 * OpenAiValidationPipe's firstUncopiedField over what was built: the first key, in the order sent,
 * that class-transformer left out of a DTO because it names an inherited member.
 */
function firstUncopiedField(sent: unknown, built: unknown, reading: Reading): FieldProblem | undefined {
  if (!isObject(sent) || !isObject(built)) return undefined;
  const reader = reading.nodes.get(built);
  if (!reader && !Array.isArray(built)) return undefined;
  for (const [key, value] of Object.entries(sent)) {
    const segment = Array.isArray(sent) ? Number(key) : key;
    if (!Object.hasOwn(built, key)) {
      if (reader?.isLeftOut(key)) return { kind: 'unknownField', path: [segment], allowed: reader.fields };
      continue;
    }
    const problem = within(segment, firstUncopiedField(value, (built as JsonObject)[key], reading));
    if (problem) return problem;
  }
  return undefined;
}

// How class-transformer builds a property's value

function readerOfProperty(compiler: Compiler, dto: DtoClass, name: string): PropertyRule['read'] {
  const shape = describedTransformOf(dto, name);
  if (shape?.kind === 'sent') return (sent) => sent;
  if (shape?.kind === 'variant') return variantReader(compiler, shape);
  const type = transformerMetadata.findTypeMetadata(dto, name);
  const read = type ? typedReader(compiler, dto, name, type) : plainCopy;
  if (shape?.kind === 'nestedArraysRefused') return (sent, reading) => withNestedArraysRefused(read(sent, reading));
  return read;
}

function describedTransformOf(dto: DtoClass, name: string): TransformShape | undefined {
  const shape = transformShapeOf(dto, name);
  if (shape === 'undescribed') throw unreadable(dto, name, 'built by a @Transform not described with shapedTransform()');
  return shape;
}

/** A @Type(() => Dto): each object, in arrays at any depth, built as the DTO. */
function typedReader(compiler: Compiler, dto: DtoClass, name: string, type: TypeMetadata): PropertyRule['read'] {
  if (type.options?.discriminator) throw unreadable(dto, name, "typed with class-transformer's discriminator");
  if (type.typeFunction.length > 0) throw unreadable(dto, name, 'typed by a function of the value');
  refuseUnreadableArrayType(dto, name, type.reflectedType);
  const nestedDto = type.typeFunction() as DtoClass;
  if (BUILT_IN_TYPES.includes(nestedDto)) throw unreadable(dto, name, `typed as ${nestedDto.name}, which class-transformer converts to`);
  const reader = compiler.readerFor(nestedDto);
  const read = (sent: unknown, reading: Reading): unknown => {
    if (Array.isArray(sent)) return sent.map((element) => read(element, reading));
    return isObject(sent) ? reader.build(sent as JsonObject, reading) : sent;
  };
  return read;
}

const BUILT_IN_TYPES: Function[] = [Object, Array, String, Number, Boolean, Date, Buffer, Map, Set, Promise];

/** class-transformer builds an array into a new instance of the property's design type when that has push(). */
function refuseUnreadableArrayType(dto: DtoClass, name: string, reflectedType: unknown): void {
  if (reflectedType === Map) throw unreadable(dto, name, 'typed as a Map');
  if (typeof reflectedType !== 'function') return;
  const made: unknown = new (reflectedType as new () => object)();
  if (made instanceof Set || (isObject(made) && 'push' in made && !Array.isArray(made))) {
    throw unreadable(dto, name, `of the collection type ${reflectedType.name}`);
  }
}

function variantReader(compiler: Compiler, shape: Extract<TransformShape, { kind: 'variant' }>): PropertyRule['read'] {
  const readers = new Map(shape.variants.map((variant) => [variant, compiler.readerFor(variant)]));
  const readOne = (sent: unknown, reading: Reading): unknown => {
    if (!isJsonObject(sent)) return sent;
    const variant = shape.variantOf(sent);
    const reader = readers.get(variant);
    if (!reader) throw new Error(`${variant.name} is not among the variants its shapedTransform() lists.`);
    return reader.build(sent, reading);
  };
  if (!shape.each) return readOne;
  return (sent, reading) => (Array.isArray(sent) ? sent.map((element) => (Array.isArray(element) ? null : readOne(element, reading))) : sent);
}

function withNestedArraysRefused(value: unknown): unknown {
  return Array.isArray(value) ? value.map((element) => (Array.isArray(element) ? null : element)) : value;
}

const PLAIN_PROBE = {};

/** class-transformer's copy of a value of no declared type: plain objects, without the keys of inherited members. */
function plainCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainCopy);
  if (!isObject(value)) return value;
  const copy: JsonObject = {};
  for (const [key, field] of Object.entries(value)) {
    if (!isLeftOut(PLAIN_PROBE, key)) copy[key] = plainCopy(field);
  }
  return copy;
}

/** Whether class-transformer leaves `key` out of an object it builds like `probe`: it does not overwrite an inherited member. */
function isLeftOut(probe: object, key: string): boolean {
  if (key === '__proto__' || key === 'constructor') return true;
  const descriptor = Object.getOwnPropertyDescriptor(probe.constructor.prototype, key);
  return (descriptor !== undefined && !descriptor.set) || (probe as JsonObject)[key] instanceof Function;
}

/** What class-transformer would do otherwise than a plain copy of the fields: refused. */
function refuseUnreadableClass(dto: DtoClass, probe: object): void {
  if (transformerMetadata.getStrategy(dto) !== 'none') throw unreadable(dto, undefined, 'excluded or exposed as a whole');
  const [renamed] = [...transformerMetadata.getExposedMetadatas(dto), ...transformerMetadata.getExcludedMetadatas(dto)];
  if (renamed) throw unreadable(dto, renamed.propertyName, 'exposed or excluded');
  for (const [name, value] of Object.entries(probe)) {
    if (value !== undefined) throw unreadable(dto, name, 'given a default value');
  }
  for (let prototype = Object.getPrototypeOf(probe); prototype !== null && prototype !== Object.prototype; prototype = Object.getPrototypeOf(prototype)) {
    const [member] = Reflect.ownKeys(prototype).filter((key) => key !== 'constructor');
    if (member !== undefined) throw unreadable(dto, String(member), 'a method or accessor');
  }
}

function unreadable(dto: DtoClass, property: string | undefined, why: string): Error {
  const where = property === undefined ? dto.name : `${dto.name}.${property}`;
  return new Error(`The compiled validator cannot read ${where}: it is ${why}. Validate this DTO with class-validator instead.`);
}

function within(segment: PathSegment, problem: FieldProblem | undefined): FieldProblem | undefined {
  return problem && { ...problem, path: [segment, ...problem.path] };
}

function setDefined(node: JsonObject, key: string, value: unknown): void {
  if (value !== undefined) node[key] = value;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

function isJsonObject(value: unknown): value is JsonObject {
  return isObject(value) && !Array.isArray(value);
}
