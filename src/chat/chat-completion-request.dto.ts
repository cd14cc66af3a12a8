import { applyDecorators } from '@nestjs/common';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { Exclude, plainToInstance, Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  Equals,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  ValidationArguments,
} from 'class-validator';
import { hasControlCharacters, HasNoControlCharacters, IsOmittable } from '../admin/admin-validation';
import { schemaHint } from '../admin/validation-schema';
import { shapedTransform, TransformShape } from '../http/compiled-validator-transforms';

// OpenAI's request body, field by field. Every message is `expected …`: the validation pipe writes
// it as "Invalid '<param>': expected …" (or "Missing required parameter: …"). `@IsOptional()` marks
// the fields OpenAI takes as null too; `@IsOmittable()` those it takes only when left out.

type DtoClass = new () => object;
type JsonObject = Record<string, unknown>;

const isJsonObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const quoted = (values: readonly string[]): string => values.map((value) => `'${value}'`).join(', ');
export const expecting = (what: string) => ({ message: `expected ${what}` });

// OpenAI's bounds for a count of tokens.
export const INT32_MAX = 2 ** 31 - 1;
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const FUNCTION_NAME_RULE = "1 to 64 letters, digits, '_' or '-'";
// OpenAI's limit on the tokens one request may bias.
const MAX_LOGIT_BIAS_ENTRIES = 300;

/** A string that names something (a model, a user, a tool call): text, but no control characters. */
export const NamingString = (what: string): PropertyDecorator =>
  applyDecorators(
    IsString(expecting(what)),
    HasNoControlCharacters({ ...expecting(`${what}, without control characters`), ...schemaHint({ note: 'No control characters.' }) }),
  );

/**
 * Keeps an opaque JSON value (a JSON Schema, metadata) exactly as sent: class-transformer's copy
 * would drop keys that shadow Object.prototype (`toString`, `valueOf`, …).
 */
export const AsSent = (): PropertyDecorator =>
  applyDecorators(
    // class-transformer copies the value before the Transform replaces it, in time quadratic in its keys: an empty class makes that copy cheap.
    Type(() => NotCopied),
    Transform(shapedTransform({ kind: 'sent' }, ({ obj, key }) => (obj as JsonObject)[key]), { toClassOnly: true }),
  );

/** A nested object of one class; `what` says its shape. */
function NestedObject(type: () => DtoClass, what: string): PropertyDecorator {
  return applyDecorators(IsObject(expecting(what)), ValidateNested(expecting(what)), Type(type));
}

/**
 * Builds a nested object (or, with `each`, each element of an array) as the class its `field`
 * names — a message's `role`, a content part's `type` — so that each variant's own fields are
 * checked. An object that names no variant gets a class whose only rule lists the variants.
 * Not class-transformer's discriminator: that one reads the field of a null element and throws.
 */
function OneOf(field: string, variants: Record<string, DtoClass>, options: { each?: boolean; what: string }): PropertyDecorator {
  const names = Object.keys(variants);
  class UnknownVariant {}
  IsIn(names, expecting(names.length > 1 ? `one of ${quoted(names)}` : quoted(names)))(UnknownVariant.prototype, field);
  const variantOf = (value: JsonObject): DtoClass => {
    const name = value[field];
    return typeof name === 'string' && Object.hasOwn(variants, name) ? variants[name] : UnknownVariant;
  };
  const build = (value: unknown): unknown => (isJsonObject(value) ? plainToInstance(variantOf(value), value) : value);
  const shape: TransformShape = { kind: 'variant', variantOf, variants: [...Object.values(variants), UnknownVariant], each: options.each === true };
  return applyDecorators(
    Type(() => NotCopied), // as in AsSent
    Transform(
      shapedTransform(shape, ({ obj, key }) => {
        const sent = (obj as JsonObject)[key];
        if (!options.each) return build(sent);
        return Array.isArray(sent) ? withNestedArraysRefused(sent.map(build)) : sent;
      }),
      { toClassOnly: true },
    ),
    ValidateNested({ each: options.each, ...expecting(options.what) }),
  );
}

@Exclude()
class NotCopied {}

/**
 * class-validator descends into an array found where it expects an object, and an empty one passes:
 * as null, such an element is refused with the property's own message.
 */
function withNestedArraysRefused(elements: unknown[]): unknown[] {
  return elements.map((element) => (Array.isArray(element) ? null : element));
}

/** An array whose every element is an object of one class; `what` says an element's shape. */
function EachNested(type: () => DtoClass, what: string): PropertyDecorator {
  return applyDecorators(
    ValidateNested({ each: true, ...expecting(what) }),
    Type(type),
    Transform(
      shapedTransform({ kind: 'nestedArraysRefused' }, ({ value }) => (Array.isArray(value) ? withNestedArraysRefused(value) : value)),
      { toClassOnly: true },
    ),
  );
}

/** A number from `min` to `max` (an integer with `integer`), or null for OpenAI's default; `what` says so. */
export function NumberFrom(min: number, max: number, { integer = false, what }: { integer?: boolean; what?: string } = {}): PropertyDecorator {
  const rule = expecting(what ?? `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  const isNumber = integer ? IsInt(rule) : IsNumber({ allowNaN: false, allowInfinity: false }, rule);
  return applyDecorators(IsOptional(), isNumber, Min(min, rule), Max(max, rule));
}

/** `{ key: value }` with at most `maxEntries` entries, each checked by `isEntry`; `entry` is its value's schema, `keys` says what a key takes. */
function IsMapOf(
  name: string,
  what: string,
  maxEntries: number,
  isEntry: (key: string, value: unknown) => boolean,
  { entry, keys }: { entry: SchemaObject; keys: string },
): PropertyDecorator {
  return ValidateBy(
    {
      name,
      validator: {
        validate: (value: unknown) =>
          isJsonObject(value) && Object.keys(value).length <= maxEntries && Object.entries(value).every(([key, field]) => isEntry(key, field)),
        defaultMessage: () => `expected ${what}`,
      },
    },
    schemaHint({ schema: { type: 'object', maxProperties: maxEntries, additionalProperties: entry }, note: `Keys: ${keys}.` }),
  );
}

/** OpenAI's `metadata`: at most 16 pairs of a key of up to 64 characters and a string of up to 512. */
export const IsMetadata = (): PropertyDecorator =>
  IsMapOf(
    'isMetadata',
    'at most 16 pairs of a key of up to 64 characters, without control characters, and a string value of up to 512 characters',
    16,
    (key, value) => key.length <= 64 && !hasControlCharacters(key) && typeof value === 'string' && value.length <= 512,
    { entry: { type: 'string', maxLength: 512 }, keys: 'up to 64 characters, without control characters' },
  );

/** A model's name, as every request names it. */
export const ModelName = (): PropertyDecorator =>
  applyDecorators(
    NamingString('a model name of 1 to 256 characters'),
    IsNotEmpty(expecting('a model name of 1 to 256 characters')),
    MaxLength(256, expecting('a model name of 1 to 256 characters')),
  );

/** OpenAI's `user`: a name of up to 256 characters. */
export const EndUser = (): PropertyDecorator =>
  applyDecorators(IsOmittable(), NamingString('a string of up to 256 characters'), MaxLength(256, expecting('a string of up to 256 characters')));

const OptionalName = (): PropertyDecorator => applyDecorators(IsOmittable(), NamingString('a string'));

// Content parts

export class TextPartDto {
  @Equals('text') type: 'text';
  @IsString(expecting('a string')) text: string;
}

export class ImageUrlDto {
  @IsString(expecting('the image URL or a base64 data URL')) @IsNotEmpty(expecting('the image URL or a base64 data URL')) url: string;
  @IsOmittable() @IsIn(['auto', 'low', 'high'], expecting("'auto', 'low' or 'high'")) detail?: 'auto' | 'low' | 'high';
}

export class ImageUrlPartDto {
  @Equals('image_url') type: 'image_url';
  @NestedObject(() => ImageUrlDto, '{ url, detail? }') image_url: ImageUrlDto;
}

export class InputAudioDto {
  @IsString(expecting('base64-encoded audio')) data: string;
  @IsIn(['wav', 'mp3'], expecting("'wav' or 'mp3'")) format: 'wav' | 'mp3';
}

export class InputAudioPartDto {
  @Equals('input_audio') type: 'input_audio';
  @NestedObject(() => InputAudioDto, '{ data, format }') input_audio: InputAudioDto;
}

export class FileDto {
  @IsOmittable() @IsString(expecting('a base64-encoded file')) file_data?: string;
  @IsOmittable() @IsString(expecting('the id of an uploaded file')) file_id?: string;
  @IsOmittable() @IsString(expecting('a string')) filename?: string;
}

export class FilePartDto {
  @Equals('file') type: 'file';
  @NestedObject(() => FileDto, '{ file_data?, file_id?, filename? }') file: FileDto;
}

export class RefusalPartDto {
  @Equals('refusal') type: 'refusal';
  @IsString(expecting('a string')) refusal: string;
}

const TEXT_PARTS = { text: TextPartDto };
const USER_PARTS = { text: TextPartDto, image_url: ImageUrlPartDto, input_audio: InputAudioPartDto, file: FilePartDto };
const ASSISTANT_PARTS = { text: TextPartDto, refusal: RefusalPartDto };

/** A string, or a non-empty array of the content parts the role takes; required (and not null) unless a field of `unlessGiven` is set. */
function MessageContent(parts: Record<string, DtoClass>, { unlessGiven = [], note = '' }: { unlessGiven?: string[]; note?: string } = {}): PropertyDecorator {
  const rule = expecting(`a string or a non-empty array of content parts (${quoted(Object.keys(parts))})${note}`);
  const required = (message: JsonObject): boolean => unlessGiven.every((field) => message[field] == null);
  const hint = schemaHint({
    alsoAccepts: { type: 'string' },
    ...(unlessGiven.length > 0 && { optional: true, nullable: true, note: `Required unless ${unlessGiven.join(' or ')} is set.` }),
  });
  return applyDecorators(
    ValidateIf((message: JsonObject, content: unknown) => typeof content !== 'string' && (content != null || required(message)), hint),
    IsArray(rule),
    ArrayMinSize(1, rule),
    OneOf('type', parts, { each: true, what: 'a content part object with a type' }),
  );
}

// Messages

export class FunctionCallDto {
  @NamingString('the name of the function called') name: string;
  @IsString(expecting('the arguments, as a JSON string')) arguments: string;
}

export class ToolCallDto {
  @NamingString('the id of the tool call') @IsNotEmpty(expecting('the id of the tool call')) id: string;
  @Equals('function', expecting("'function'")) type: 'function';
  @NestedObject(() => FunctionCallDto, '{ name, arguments }') function: FunctionCallDto;
}

export class AssistantAudioDto {
  @IsString(expecting('the id of a previous audio response')) id: string;
}

export class SystemMessageDto {
  @Equals('system') role: 'system';
  @MessageContent(TEXT_PARTS) content: string | TextPartDto[];
  @OptionalName() name?: string;
}

export class DeveloperMessageDto {
  @Equals('developer') role: 'developer';
  @MessageContent(TEXT_PARTS) content: string | TextPartDto[];
  @OptionalName() name?: string;
}

export class UserMessageDto {
  @Equals('user') role: 'user';
  @MessageContent(USER_PARTS) content: string | object[];
  @OptionalName() name?: string;
}

export class AssistantMessageDto {
  @Equals('assistant') role: 'assistant';

  /** OpenAI: required unless the message has tool calls (or the audio of a previous response). */
  @MessageContent(ASSISTANT_PARTS, { unlessGiven: ['tool_calls', 'audio'], note: ', or null with tool_calls' })
  content?: string | object[] | null;

  @OptionalName() name?: string;
  @IsOptional() @IsString(expecting('a string')) refusal?: string | null;

  @IsOmittable()
  @IsArray(expecting('a non-empty array of tool calls'))
  @ArrayMinSize(1, expecting('a non-empty array of tool calls'))
  @EachNested(() => ToolCallDto, 'a tool call object { id, type, function }')
  tool_calls?: ToolCallDto[];

  @IsOptional() @NestedObject(() => AssistantAudioDto, '{ id }') audio?: AssistantAudioDto | null;
}

export class ToolMessageDto {
  @Equals('tool') role: 'tool';
  @MessageContent(TEXT_PARTS) content: string | TextPartDto[];
  @NamingString('the id of the tool call this message answers') @IsNotEmpty(expecting('the id of the tool call this message answers'))
  tool_call_id: string;
}

const MESSAGES = {
  system: SystemMessageDto,
  developer: DeveloperMessageDto,
  user: UserMessageDto,
  assistant: AssistantMessageDto,
  tool: ToolMessageDto,
};

export type ChatMessageDto = SystemMessageDto | DeveloperMessageDto | UserMessageDto | AssistantMessageDto | ToolMessageDto;

// Tools and formats

export class FunctionDefinitionDto {
  @Matches(FUNCTION_NAME, expecting(FUNCTION_NAME_RULE)) name: string;
  @IsOmittable() @IsString(expecting('a string')) description?: string;
  @IsOmittable() @IsObject(expecting('a JSON Schema object')) @AsSent() parameters?: JsonObject;
  @IsOptional() @IsBoolean(expecting('true or false')) strict?: boolean | null;
}

export class ToolDto {
  @Equals('function', expecting("'function'")) type: 'function';
  @NestedObject(() => FunctionDefinitionDto, '{ name, description?, parameters?, strict? }') function: FunctionDefinitionDto;
}

export class ToolChoiceFunctionDto {
  @NamingString('the name of a tool') name: string;
}

export class NamedToolChoiceDto {
  @Equals('function', expecting("'function'")) type: 'function';
  @NestedObject(() => ToolChoiceFunctionDto, '{ name }') function: ToolChoiceFunctionDto;
}

const TOOL_CHOICE_MODES = ['none', 'auto', 'required'];

export class TextFormatDto {
  @Equals('text') type: 'text';
}

export class JsonObjectFormatDto {
  @Equals('json_object') type: 'json_object';
}

export class JsonSchemaDto {
  @Matches(FUNCTION_NAME, expecting(FUNCTION_NAME_RULE)) name: string;
  @IsOmittable() @IsString(expecting('a string')) description?: string;
  @IsOmittable() @IsObject(expecting('a JSON Schema object')) @AsSent() schema?: JsonObject;
  @IsOptional() @IsBoolean(expecting('true or false')) strict?: boolean | null;
}

export class JsonSchemaFormatDto {
  @Equals('json_schema') type: 'json_schema';
  @NestedObject(() => JsonSchemaDto, '{ name, description?, schema?, strict? }') json_schema: JsonSchemaDto;
}

export class StreamOptionsDto {
  @IsOptional() @IsBoolean(expecting('true or false')) include_usage?: boolean | null;
  @IsOptional() @IsBoolean(expecting('true or false')) include_obfuscation?: boolean | null;
}

const STOP_RULE = expecting('a string or an array of 1 to 4 strings');

/**
 * The allow-list: top-level fields the gateway does not interpret and forwards to OpenAI as sent.
 * Each is checked for its JSON type and, where OpenAI documents one, its range; the values of
 * enumerations (`reasoning_effort`, `service_tier`, `verbosity`, …) are OpenAI's to judge, so that
 * a new one needs no gateway release. A top-level field neither here nor in ChatCompletionRequestDto
 * is a 400 naming it.
 */
export class ForwardedChatFieldsDto {
  @IsOptional() @IsBoolean(expecting('true or false')) store?: boolean | null;
  @IsOptional() @IsString(expecting('a string, e.g. "low", "medium" or "high"')) reasoning_effort?: string | null;
  @IsOptional() @IsString(expecting('a string, e.g. "auto", "default" or "flex"')) service_tier?: string | null;
  @IsOptional() @IsArray(expecting('an array of strings, e.g. ["text", "audio"]')) @IsString({ each: true, ...expecting('an array of strings, e.g. ["text", "audio"]') })
  modalities?: string[] | null;
  @IsOptional() @IsObject(expecting('an object { voice, format }')) @AsSent() audio?: JsonObject | null;
  @IsOptional() @IsObject(expecting('an object { type, content }')) @AsSent() prediction?: JsonObject | null;
  @IsOmittable() @IsObject(expecting('an object')) @AsSent() web_search_options?: JsonObject;
  @IsOptional() @IsString(expecting('a string, e.g. "low", "medium" or "high"')) verbosity?: string | null;
  @IsOmittable() @IsBoolean(expecting('true or false')) parallel_tool_calls?: boolean;
  @IsOptional() @IsBoolean(expecting('true or false')) logprobs?: boolean | null;
  @NumberFrom(0, 20, { integer: true }) top_logprobs?: number | null;
  @NumberFrom(-2, 2) presence_penalty?: number | null;
  @NumberFrom(-2, 2) frequency_penalty?: number | null;
  @NumberFrom(-(2 ** 63), 2 ** 63 - 1, { integer: true, what: 'a 64-bit integer' }) seed?: number | null;

  @IsOptional()
  @IsMapOf(
    'isLogitBias',
    `an object mapping at most ${MAX_LOGIT_BIAS_ENTRIES} token ids to numbers from -100 to 100`,
    MAX_LOGIT_BIAS_ENTRIES,
    (token, bias) => /^\d+$/.test(token) && typeof bias === 'number' && bias >= -100 && bias <= 100,
    { entry: { type: 'number', minimum: -100, maximum: 100 }, keys: 'token ids (digits)' },
  )
  @AsSent()
  logit_bias?: Record<string, number> | null;

  @EndUser() user?: string;
  @IsOptional() @NamingString('a string') safety_identifier?: string | null;
  @IsOptional() @NamingString('a string') prompt_cache_key?: string | null;
}

/** OpenAI's chat completion request: the fields the gateway checks in depth, and the allow-list it forwards. */
export class ChatCompletionRequestDto extends ForwardedChatFieldsDto {
  @ModelName() model: string;

  @IsArray(expecting('a non-empty array of messages'))
  @ArrayMinSize(1, expecting('a non-empty array of messages'))
  @OneOf('role', MESSAGES, { each: true, what: 'a message object with a role' })
  messages: ChatMessageDto[];

  @IsOptional() @IsBoolean(expecting('true or false')) stream?: boolean | null;

  @IsOptional()
  @NestedObject(() => StreamOptionsDto, '{ include_usage? }')
  @ValidateBy(
    {
      name: 'onlyWhenStreaming',
      validator: {
        validate: (_value: unknown, { object }: ValidationArguments) => (object as ChatCompletionRequestDto).stream === true,
        defaultMessage: () => 'only allowed when stream is true',
      },
    },
    schemaHint({ note: 'Only with `stream: true`.' }),
  )
  stream_options?: StreamOptionsDto | null;

  @NumberFrom(1, INT32_MAX, { integer: true }) max_tokens?: number | null;
  @NumberFrom(1, INT32_MAX, { integer: true }) max_completion_tokens?: number | null;
  @NumberFrom(0, 2) temperature?: number | null;
  @NumberFrom(0, 1) top_p?: number | null;
  @NumberFrom(1, 128, { integer: true }) n?: number | null;

  @IsOptional()
  @ValidateIf((_request: object, stop: unknown) => typeof stop !== 'string', schemaHint({ alsoAccepts: { type: 'string' } }))
  @IsArray(STOP_RULE)
  @ArrayMinSize(1, STOP_RULE)
  @ArrayMaxSize(4, STOP_RULE)
  @IsString({ each: true, ...STOP_RULE })
  stop?: string | string[] | null;

  @IsOmittable()
  @IsArray(expecting('an array of 1 to 128 tools'))
  @ArrayMinSize(1, expecting('an array of 1 to 128 tools'))
  @ArrayMaxSize(128, expecting('an array of 1 to 128 tools'))
  @EachNested(() => ToolDto, 'a tool object { type: "function", function }')
  tools?: ToolDto[];

  /** A mode, or an object that names the tool to call; anything else must be that object. */
  @IsOmittable()
  @ValidateIf(
    (_request: object, choice: unknown) => !(typeof choice === 'string' && TOOL_CHOICE_MODES.includes(choice)),
    schemaHint({ alsoAccepts: { type: 'string', enum: TOOL_CHOICE_MODES } }),
  )
  @NestedObject(() => NamedToolChoiceDto, `${quoted(TOOL_CHOICE_MODES)} or { type: 'function', function: { name } }`)
  tool_choice?: string | NamedToolChoiceDto;

  @IsOmittable()
  @IsObject(expecting("{ type: 'text' }, { type: 'json_object' } or { type: 'json_schema', json_schema }"))
  @OneOf('type', { text: TextFormatDto, json_object: JsonObjectFormatDto, json_schema: JsonSchemaFormatDto }, { what: 'a response format object with a type' })
  response_format?: TextFormatDto | JsonObjectFormatDto | JsonSchemaFormatDto;

  @IsOptional() @IsMetadata() @AsSent() metadata?: Record<string, string> | null;
}
