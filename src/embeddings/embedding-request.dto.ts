import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { IsIn, IsInt, Min, ValidateBy } from 'class-validator';
import { IsOmittable } from '../admin/admin-validation';
import { schemaHint } from '../admin/validation-schema';
import { EndUser, expecting, ModelName } from '../chat/chat-completion-request.dto';

// OpenAI's limit on the inputs of one embeddings request.
const MAX_INPUTS = 2048;
const INPUT_RULE = `a non-empty string, or an array of 1 to ${MAX_INPUTS} non-empty strings, token ids, or non-empty arrays of token ids`;

const isTokenId = (value: unknown): boolean => Number.isInteger(value) && (value as number) >= 0;
const isTokenArray = (value: unknown): boolean => Array.isArray(value) && value.length > 0 && value.every(isTokenId);

/** One text, texts, one text as token ids, or texts as token ids: each array of one kind throughout. */
function isEmbeddingInput(input: unknown): boolean {
  if (typeof input === 'string') return input.length > 0;
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_INPUTS) return false;
  if (typeof input[0] === 'string') return input.every((text) => typeof text === 'string' && text.length > 0);
  return input.every(isTokenId) || input.every(isTokenArray);
}

const inputs = (items: SchemaObject): SchemaObject => ({ type: 'array', minItems: 1, maxItems: MAX_INPUTS, items });
const TOKEN_ID: SchemaObject = { type: 'integer', minimum: 0 };
const INPUT_SCHEMA: SchemaObject = {
  oneOf: [{ type: 'string', minLength: 1 }, inputs({ type: 'string', minLength: 1 }), inputs(TOKEN_ID), inputs({ type: 'array', minItems: 1, items: TOKEN_ID })],
};

/** OpenAI's embeddings request. */
export class EmbeddingRequestDto {
  @ModelName() model: string;

  @ValidateBy(
    { name: 'isEmbeddingInput', validator: { validate: isEmbeddingInput, defaultMessage: () => `expected ${INPUT_RULE}` } },
    schemaHint({ schema: INPUT_SCHEMA }),
  )
  input: string | string[] | number[] | number[][];

  @IsOmittable() @IsInt(expecting('an integer of 1 or more')) @Min(1, expecting('an integer of 1 or more')) dimensions?: number;
  @IsOmittable() @IsIn(['float', 'base64'], expecting("'float' or 'base64'")) encoding_format?: 'float' | 'base64';
  @EndUser() user?: string;
}
