import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { modelAndFault, readRequestBody, serveWithFault, type ApiContext } from './api-context';
import { mulberry32, splitModelFault } from './faults';
import { firstHalfOf } from './http-io';
import { InvalidInput, isRecord } from './validation';

/** One text, or one text already tokenized. */
type EmbeddingInput = string | number[];

interface EmbeddingsRequest {
  /** As requested, `:fault=` suffix included. */
  model: string;
  inputs: EmbeddingInput[];
  dimensions?: number;
  encodingFormat: 'float' | 'base64';
}

const NATIVE_DIMENSIONS: Readonly<Record<string, number>> = {
  'text-embedding-3-large': 3072,
  'text-embedding-3-small': 1536,
  'text-embedding-ada-002': 1536,
};
const DEFAULT_DIMENSIONS = 1536;
const MAX_INPUTS = 2048;
const INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";

export async function serveEmbeddings(ctx: ApiContext): Promise<void> {
  const request = parseEmbeddingsRequest(await readRequestBody(ctx));
  ctx.ex.call.model = request.model;
  const { model, fault } = modelAndFault(ctx, request.model);
  await serveWithFault(ctx, fault, { model, stream: false }, (outcome) => {
    const json = JSON.stringify(embeddingsResponse(request, model));
    ctx.ex.sendJson(200, outcome.truncated ? firstHalfOf(json) : json);
  });
}

function embeddingsResponse({ inputs, dimensions, encodingFormat }: EmbeddingsRequest, model: string) {
  const size = dimensions ?? NATIVE_DIMENSIONS[model] ?? DEFAULT_DIMENSIONS;
  const data = inputs.map((input, index) => {
    const vector = embeddingOf(input, size);
    return { object: 'embedding', index, embedding: encodingFormat === 'base64' ? base64Of(vector) : vector };
  });
  // Embedding models count with cl100k_base; a tokenized input is its tokens.
  const promptTokens = inputs.reduce((total, input) => total + (typeof input === 'string' ? countTokens(input) : input.length), 0);
  return { object: 'list', data, model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
}

/**
 * A unit vector drawn from a PRNG seeded by the input, so the same input always gets the same one.
 * Like OpenAI's, a shortened vector is the start of the full one (it is drawn the same way), normalised again.
 */
function embeddingOf(input: EmbeddingInput, size: number): number[] {
  const random = mulberry32(seedOf(typeof input === 'string' ? input : input.join(',')));
  const values = Array.from({ length: size }, () => random() * 2 - 1);
  const length = Math.hypot(...values);
  // float32, as OpenAI computes them: the float list then says exactly what the base64 says.
  return values.map((value) => Math.fround(value / length));
}

/** FNV-1a over the UTF-16 code units. */
function seedOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** OpenAI's base64 encoding: the vector's little-endian float32 bytes. */
function base64Of(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!isRecord(body)) throw new InvalidInput('The request body must be a JSON object.');
  const { model, encoding_format: encodingFormat = 'float' } = body;
  if (typeof model !== 'string' || model === '') throw new InvalidInput('you must provide a model parameter');
  if (encodingFormat !== 'float' && encodingFormat !== 'base64') {
    throw new InvalidInput("Invalid value for 'encoding_format': expected 'float' or 'base64'.", 'encoding_format', 'invalid_value');
  }
  return { model, inputs: inputsOf(body.input), dimensions: dimensionsOf(body.dimensions, model), encodingFormat };
}

/** A string, an array of strings, an array of token ids, or an array of arrays of token ids; none empty. */
function inputsOf(input: unknown): EmbeddingInput[] {
  if (input === undefined || input === null) {
    throw new InvalidInput("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  }
  if (isText(input)) return [input];
  if (!Array.isArray(input)) throw new InvalidInput(INVALID_INPUT, 'input', 'invalid_value');
  if (input.length === 0) throw new InvalidInput("[] is too short - 'input'", 'input', 'empty_array');
  if (input.length > MAX_INPUTS) {
    throw new InvalidInput(`Invalid 'input': at most ${MAX_INPUTS} inputs per request, got ${input.length}.`, 'input', 'invalid_value');
  }
  if (input.every(isTokenId)) return [input];
  if (input.every(isText) || input.every(isTokens)) return input;
  throw new InvalidInput(INVALID_INPUT, 'input', 'invalid_value');
}

const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';
const isTokenId = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;
const isTokens = (value: unknown): value is number[] => Array.isArray(value) && value.length > 0 && value.every(isTokenId);

/** Only the text-embedding-3 models (and models the simulator does not know) can be shortened. */
function dimensionsOf(dimensions: unknown, requestedModel: string): number | undefined {
  if (dimensions === undefined || dimensions === null) return undefined;
  const { model } = splitModelFault(requestedModel);
  if (model === 'text-embedding-ada-002') throw new InvalidInput('This model does not support specifying dimensions.', 'dimensions');
  const native = NATIVE_DIMENSIONS[model] ?? DEFAULT_DIMENSIONS;
  if (!Number.isInteger(dimensions) || (dimensions as number) < 1 || (dimensions as number) > native) {
    throw new InvalidInput(`Invalid value for 'dimensions': expected an integer from 1 to ${native}.`, 'dimensions', 'invalid_value');
  }
  return dimensions as number;
}
