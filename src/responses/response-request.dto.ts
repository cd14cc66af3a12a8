import {
  ArrayMaxSize,
  Equals,
  IsArray,
  IsBoolean,
  IsObject,
  IsOptional,
  IsString,
  ValidateBy,
  ValidationArguments,
} from 'class-validator';
import { IsOmittable } from '../admin/admin-validation';
import { schemaHint } from '../admin/validation-schema';
import { AsSent, EndUser, expecting, INT32_MAX, IsMetadata, ModelName, NamingString, NumberFrom } from '../chat/chat-completion-request.dto';

type JsonObject = Record<string, unknown>;

const isJsonObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A string, or an object: the value's shape is OpenAI's to judge in depth. */
function StringOrObject(name: string, what: string): PropertyDecorator {
  return ValidateBy(
    { name, validator: { validate: (value) => typeof value === 'string' || isJsonObject(value), defaultMessage: () => `expected ${what}` } },
    schemaHint({ schema: { oneOf: [{ type: 'string' }, { type: 'object' }] } }),
  );
}

const INPUT_RULE = 'a non-empty string, or a non-empty array of input items (objects)';

/**
 * OpenAI's Responses API request. The gateway checks each field's JSON type and, where OpenAI documents one, its range;
 * the items of `input`, the tools and the formats are OpenAI's to judge in depth, so that a new item or tool type needs
 * no gateway release. A top-level field not listed here is a 400 naming it.
 */
export class ResponseRequestDto {
  @ModelName() model: string;

  @IsOmittable()
  @ValidateBy(
    {
      name: 'isResponseInput',
      validator: {
        validate: (input: unknown) => (typeof input === 'string' ? input.length > 0 : Array.isArray(input) && input.length > 0 && input.every(isJsonObject)),
        defaultMessage: () => `expected ${INPUT_RULE}`,
      },
    },
    schemaHint({ schema: { oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'object' } }] } }),
  )
  @AsSent()
  input?: string | JsonObject[];

  @IsOptional() @IsString(expecting('a string')) instructions?: string | null;
  @NumberFrom(1, INT32_MAX, { integer: true }) max_output_tokens?: number | null;
  @NumberFrom(1, INT32_MAX, { integer: true }) max_tool_calls?: number | null;
  @NumberFrom(0, 2) temperature?: number | null;
  @NumberFrom(0, 1) top_p?: number | null;
  @NumberFrom(0, 20, { integer: true }) top_logprobs?: number | null;

  @IsOptional() @IsBoolean(expecting('true or false')) stream?: boolean | null;

  @IsOptional()
  @IsObject(expecting('an object { include_obfuscation? }'))
  @AsSent()
  @ValidateBy(
    {
      name: 'onlyWhenStreaming',
      validator: {
        validate: (_value: unknown, { object }: ValidationArguments) => (object as ResponseRequestDto).stream === true,
        defaultMessage: () => 'only allowed when stream is true',
      },
    },
    schemaHint({ note: 'Only with `stream: true`.' }),
  )
  stream_options?: JsonObject | null;

  /** A background response is billed after the call has returned, past any reservation: the gateway cannot meter it. */
  @IsOptional() @Equals(false, expecting('false: a background response is billed after the call, which the gateway cannot meter')) background?: false | null;

  @IsOmittable()
  @IsArray(expecting('an array of up to 128 tool objects'))
  @ArrayMaxSize(128, expecting('an array of up to 128 tool objects'))
  @IsObject({ each: true, ...expecting('an array of up to 128 tool objects') })
  @AsSent()
  tools?: JsonObject[];

  @IsOmittable() @StringOrObject('isToolChoice', "'none', 'auto', 'required' or a tool choice object") @AsSent() tool_choice?: string | JsonObject;
  @IsOmittable() @IsObject(expecting('an object { format?, verbosity? }')) @AsSent() text?: JsonObject;
  @IsOptional() @IsObject(expecting('an object { effort?, summary? }')) @AsSent() reasoning?: JsonObject | null;
  @IsOptional() @IsMetadata() @AsSent() metadata?: Record<string, string> | null;
  @IsOptional() @NamingString('the id of a previous response') previous_response_id?: string | null;
  @IsOptional() @StringOrObject('isConversation', 'the id of a conversation or an object { id }') @AsSent() conversation?: string | JsonObject | null;
  @IsOptional() @IsObject(expecting('an object { id, version?, variables? }')) @AsSent() prompt?: JsonObject | null;
  @IsOptional() @IsArray(expecting('an array of strings')) @IsString({ each: true, ...expecting('an array of strings') }) include?: string[] | null;
  @IsOptional() @IsBoolean(expecting('true or false')) store?: boolean | null;
  @IsOptional() @IsBoolean(expecting('true or false')) parallel_tool_calls?: boolean | null;
  @IsOptional() @IsString(expecting('a string, e.g. "auto" or "disabled"')) truncation?: string | null;
  @IsOptional() @IsString(expecting('a string, e.g. "auto", "default" or "flex"')) service_tier?: string | null;
  @IsOptional() @NamingString('a string') prompt_cache_key?: string | null;
  @IsOptional() @IsString(expecting('a string, e.g. "in_memory" or "24h"')) prompt_cache_retention?: string | null;
  @IsOptional() @NamingString('a string') safety_identifier?: string | null;
  @EndUser() user?: string;
}
