import { ArgumentMetadata, Type, ValidationError, ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { ChatCompletionRequestDto } from '../chat/chat-completion-request.dto';
import { EmbeddingRequestDto } from '../embeddings/embedding-request.dto';
import { AsyncChatCompletionRequestDto } from '../jobs/async-chat-completion-request.dto';
import { ResponseRequestDto } from '../responses/response-request.dto';
import { compileValidator, CompiledValidator, FieldProblem, PathSegment } from './compiled-validator';
import { GatewayHttpException } from './gateway-http.exception';

/** Validated on every call, where building and checking instances cost ten times the compiled rules (bench/validation.js). */
const COMPILED_BODIES: Array<new () => object> = [ChatCompletionRequestDto, AsyncChatCompletionRequestDto, EmbeddingRequestDto, ResponseRequestDto];

/**
 * DTO validation whose failures are OpenAI's 400: `param` names the field as OpenAI writes it
 * (`messages[0].role`, `tools[1].function.name`) and the message says what the field takes.
 * The bodies of `compiledBodies` are validated by rules compiled from their DTOs (compiled-validator.ts),
 * with the same outcome; any other DTO by class-validator.
 */
export class OpenAiValidationPipe extends ValidationPipe {
  private readonly compiled: Map<Type<unknown>, CompiledValidator>;

  constructor(compiledBodies: Array<new () => object> = []) {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      // The factory reads the object of an unknown field (to list the allowed ones) and whether a parent is an array.
      validationError: { target: true, value: true },
      exceptionFactory: (errors) => {
        const { message, param } = describeFirstProblem(errors);
        return GatewayHttpException.invalidRequest(message, param);
      },
    });
    this.compiled = new Map(compiledBodies.map((dto) => [dto, compileValidator(dto)]));
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // Nest would validate an array or a string as an empty object and complain about its fields.
    if (metadata.type === 'body' && this.toValidate(metadata) && value !== undefined && !isJsonObject(value)) {
      throw GatewayHttpException.invalidRequest('The request body must be a JSON object.', null);
    }
    const compiled = metadata.type === 'body' && metadata.metatype ? this.compiled.get(metadata.metatype) : undefined;
    if (compiled && (value === undefined || isParsedJsonObject(value))) return this.validateCompiled(compiled, value ?? {});
    const built: unknown = await super.transform(value, metadata);
    const uncopied = firstUncopiedField(value, built);
    if (uncopied) throw GatewayHttpException.invalidRequest(uncopied.message, uncopied.param);
    return withoutUnsetFields(built);
  }

  /**
   * What `super.transform` does to a JSON body (an absent one is validated as `{}`), by the compiled rules:
   * Nest's stripping of prototype keys, in place, then the rules (a parsed body has no array gaps to close).
   */
  private validateCompiled(validate: CompiledValidator, body: Record<string, unknown>): Record<string, unknown> {
    this.stripProtoKeys(body);
    const { value, problem } = validate(body);
    if (problem) {
      const { message, param } = describeCompiledProblem(problem);
      throw GatewayHttpException.invalidRequest(message, param);
    }
    return value;
  }
}

export function createValidationPipe(): ValidationPipe {
  return new OpenAiValidationPipe(COMPILED_BODIES);
}

function isJsonObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object as JSON.parse builds it: the compiled rules read nothing else (no Date, Buffer or class instance). */
function isParsedJsonObject(value: unknown): value is Record<string, unknown> {
  return isJsonObject(value) && Object.getPrototypeOf(value) === Object.prototype;
}

interface Problem {
  message: string;
  param: string;
}

/** The first problem, preferring a wrong value to an unknown field (which often follows from it, as a field of another role). */
function describeFirstProblem(errors: ValidationError[], parent = '', parentIsArray = false): Problem {
  const error = errors.find((candidate) => !isUnknownField(candidate)) ?? errors[0];
  const param = paramOf(parent, error.property, parentIsArray);
  if (isUnknownField(error)) return unknownField(param, parent, fieldsOf(error.target));
  const [constraint] = Object.values(error.constraints ?? {});
  if (constraint === undefined) return describeFirstProblem(error.children ?? [], param, Array.isArray(error.value));
  return invalidValue(param, constraint, error.value === undefined);
}

/** The same problem, found by the compiled rules. */
function describeCompiledProblem(problem: FieldProblem): Problem {
  const param = paramAt(problem.path);
  if (problem.kind === 'unknownField') return unknownField(param, paramAt(problem.path.slice(0, -1)), problem.allowed);
  return invalidValue(param, problem.constraint, problem.missing);
}

function invalidValue(param: string, constraint: string, missing: boolean): Problem {
  return { param, message: missing ? `Missing required parameter: '${param}' (${constraint}).` : `Invalid '${param}': ${constraint}.` };
}

/** As OpenAI writes it: `messages[0].content`. */
function paramOf(parent: string, property: string, parentIsArray: boolean): string {
  if (parentIsArray) return `${parent}[${property}]`;
  return parent ? `${parent}.${property}` : property;
}

function paramAt(path: PathSegment[]): string {
  return path.reduce<string>((parent, segment) => paramOf(parent, String(segment), typeof segment === 'number'), '');
}

function unknownField(param: string, parent: string, allowed: string[]): Problem {
  const where = parent ? `in '${parent}'` : 'in the request';
  return { param, message: `Unrecognized request argument supplied: '${param}'. Allowed ${where}: ${allowed.join(', ')}.` };
}

function isUnknownField(error: ValidationError): boolean {
  return error.constraints?.whitelistValidation !== undefined;
}

/** The fields a DTO declares, in declaration order. */
function fieldsOf(target: object | undefined): string[] {
  if (!target) return [];
  const rules = getMetadataStorage().getTargetValidationMetadatas(target.constructor, '', false, false);
  return [...new Set(rules.map((rule) => rule.propertyName))];
}

/**
 * class-transformer does not copy a key that names an inherited member (`valueOf`, `toString`), so
 * whitelisting never sees it: found by comparing what was sent with the DTOs built from it. Only
 * DTOs and arrays of them are looked into; an opaque value (a JSON Schema) is a plain object.
 */
function firstUncopiedField(sent: unknown, built: unknown, parent = ''): Problem | undefined {
  if (typeof sent !== 'object' || sent === null || typeof built !== 'object' || built === null) return undefined;
  if (Object.getPrototypeOf(built) === Object.prototype) return undefined;
  for (const [key, value] of Object.entries(sent)) {
    const param = paramOf(parent, key, Array.isArray(sent));
    if (!Object.hasOwn(built, key)) {
      if (!Array.isArray(built) && key in built) return unknownField(param, parent, fieldsOf(built));
      continue;
    }
    const found = firstUncopiedField(value, (built as Record<string, unknown>)[key], param);
    if (found) return found;
  }
  return undefined;
}

/**
 * A DTO's declared but absent fields are own `undefined` properties (class fields are defined
 * since ES2022): removed, so that what the gateway forwards is what was sent.
 */
function withoutUnsetFields<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null) continue;
    for (const [key, field] of Object.entries(next)) {
      if (field === undefined && !Array.isArray(next)) delete (next as Record<string, unknown>)[key];
      else pending.push(field);
    }
  }
  return value;
}
