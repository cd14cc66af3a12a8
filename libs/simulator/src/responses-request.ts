import type { CompletionLimits } from './types';
import { InvalidInput, isRecord } from './validation';

export interface ResponsesRequest {
  /** As requested, `:fault=` suffix included. */
  model: string;
  /** The instructions and the input, as chat messages, for counting the input tokens. */
  messages: Record<string, unknown>[];
  stream: boolean;
  maxOutputTokens?: number;
  completionLimits: CompletionLimits;
  /** The request's fields that the response repeats, each as sent or its default. */
  echoed: Record<keyof typeof ECHOED_DEFAULTS, unknown>;
}

const ECHOED_DEFAULTS = {
  instructions: null,
  max_output_tokens: null,
  metadata: {},
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: true,
  temperature: 1,
  text: { format: { type: 'text' } },
  tool_choice: 'auto',
  tools: [],
  top_p: 1,
  truncation: 'disabled',
  user: null,
};

const MIN_OUTPUT_TOKENS = 16;

/** Checks what the simulator needs of a request, with OpenAI's error for what is wrong; other fields are only repeated. */
export function parseResponsesRequest(body: unknown): ResponsesRequest {
  if (!isRecord(body)) throw new InvalidInput('The request body must be a JSON object.');
  const { model } = body;
  if (typeof model !== 'string' || model === '') throw new InvalidInput('you must provide a model parameter');
  const maxOutputTokens = maxOutputTokensOf(body.max_output_tokens);
  const echoed = Object.fromEntries(Object.entries(ECHOED_DEFAULTS).map(([field, value]) => [field, body[field] ?? value]));
  return {
    model,
    messages: messagesOf(body.instructions, body.input),
    stream: body.stream === true,
    maxOutputTokens,
    completionLimits: body.max_output_tokens === undefined ? {} : { max_output_tokens: body.max_output_tokens as number | null },
    echoed: echoed as ResponsesRequest['echoed'],
  };
}

/** The instructions as a developer message, then the input: a string is a user message, an array its items. */
function messagesOf(instructions: unknown, input: unknown): Record<string, unknown>[] {
  const messages: Record<string, unknown>[] = typeof instructions === 'string' ? [{ role: 'developer', content: instructions }] : [];
  if (input === undefined || input === null) return messages;
  if (typeof input === 'string') return [...messages, { role: 'user', content: input }];
  if (!Array.isArray(input)) {
    throw new InvalidInput("Invalid type for 'input': expected a string or an array of input items.", 'input', 'invalid_type');
  }
  const notObject = input.findIndex((item) => !isRecord(item));
  if (notObject >= 0) {
    throw new InvalidInput(`Invalid type for 'input[${notObject}]': expected an object.`, `input[${notObject}]`, 'invalid_type');
  }
  return [...messages, ...(input as Record<string, unknown>[])];
}

function maxOutputTokensOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value)) {
    throw new InvalidInput("Invalid type for 'max_output_tokens': expected an integer.", 'max_output_tokens', 'invalid_type');
  }
  if ((value as number) < MIN_OUTPUT_TOKENS) {
    throw new InvalidInput(
      `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= ${MIN_OUTPUT_TOKENS}, but got ${value} instead.`,
      'max_output_tokens',
      'integer_below_min_value',
    );
  }
  return value as number;
}
