import type { CompletionLimits } from './types';
import { InvalidInput, isRecord } from './validation';

export interface FunctionTool {
  name: string;
  /** The JSON Schema of the arguments, as sent. */
  parameters?: unknown;
}

/** `{ name }`: that function is forced. */
export type ToolChoice = 'none' | 'auto' | 'required' | { name: string };

export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; schema: unknown };

export interface ChatRequest {
  /** As requested, `:fault=` suffix included. */
  model: string;
  messages: Record<string, unknown>[];
  stream: boolean;
  includeUsage: boolean;
  maxTokens?: number;
  /** Both limit fields as sent, absent ones left out. */
  completionLimits: CompletionLimits;
  /** How many choices to write. */
  n: number;
  /** The function tools; tools of other types are left out. */
  tools: FunctionTool[];
  toolChoice: ToolChoice;
  responseFormat: ResponseFormat;
  /** `top_logprobs` (0 when absent) when `logprobs` is true; undefined when logprobs were not asked for. */
  topLogprobs?: number;
}

/** Checks what the simulator needs of a request, with OpenAI's error for what is missing. */
export function parseChatRequest(body: unknown): ChatRequest {
  if (!isRecord(body)) throw new InvalidInput('The request body must be a JSON object.');
  const { model, messages } = body;
  if (typeof model !== 'string' || model === '') throw new InvalidInput('you must provide a model parameter');
  if (!Array.isArray(messages)) {
    throw new InvalidInput("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  }
  if (messages.length === 0) throw new InvalidInput("[] is too short - 'messages'", 'messages', 'empty_array');
  const notObject = messages.findIndex((message) => !isRecord(message));
  if (notObject >= 0) {
    throw new InvalidInput(`Invalid type for 'messages[${notObject}]': expected an object.`, `messages[${notObject}]`, 'invalid_type');
  }
  const streamOptions = body.stream_options;
  return {
    model,
    messages: messages as Record<string, unknown>[],
    stream: body.stream === true,
    includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
    maxTokens: maxTokensOf(body),
    completionLimits: completionLimitsOf(body),
    n: integerIn(body, 'n', 1, 128) ?? 1,
    tools: toolsOf(body.tools),
    toolChoice: toolChoiceOf(body.tool_choice),
    responseFormat: responseFormatOf(body.response_format),
    topLogprobs: body.logprobs === true ? (integerIn(body, 'top_logprobs', 0, 20) ?? 0) : undefined,
  };
}

function integerIn(body: Record<string, unknown>, param: string, min: number, max: number): number | undefined {
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new InvalidInput(`Invalid value for '${param}': expected an integer from ${min} to ${max}.`, param, 'invalid_value');
  }
  return value as number;
}

// Tools, tool_choice and response_format are read leniently: what the simulator cannot use it ignores rather than
// refuses, so that it answers whatever a gateway in front of it lets through.

function toolsOf(tools: unknown): FunctionTool[] {
  if (!Array.isArray(tools)) return [];
  return tools.flatMap((tool) =>
    isRecord(tool) && tool.type === 'function' && isRecord(tool.function) && typeof tool.function.name === 'string'
      ? [{ name: tool.function.name, parameters: tool.function.parameters }]
      : [],
  );
}

function toolChoiceOf(choice: unknown): ToolChoice {
  if (choice === 'none' || choice === 'auto' || choice === 'required') return choice;
  if (isRecord(choice) && isRecord(choice.function) && typeof choice.function.name === 'string') return { name: choice.function.name };
  return 'auto';
}

function responseFormatOf(format: unknown): ResponseFormat {
  if (!isRecord(format)) return { type: 'text' };
  if (format.type === 'json_object') return { type: 'json_object' };
  if (format.type !== 'json_schema') return { type: 'text' };
  const schema = isRecord(format.json_schema) ? format.json_schema.schema : undefined;
  return { type: 'json_schema', schema: schema ?? { type: 'object' } };
}

function completionLimitsOf(body: Record<string, unknown>): CompletionLimits {
  const sent = (['max_tokens', 'max_completion_tokens'] as const).filter((param) => body[param] !== undefined);
  return Object.fromEntries(sent.map((param) => [param, body[param]])) as CompletionLimits;
}

function maxTokensOf(body: Record<string, unknown>): number | undefined {
  const param = body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const value = body[param];
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new InvalidInput(`Invalid value for '${param}': expected a positive integer.`, param, 'invalid_value');
  }
  return value as number;
}
