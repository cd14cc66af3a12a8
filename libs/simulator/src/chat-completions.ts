import type { Exchange } from './exchange';
import type { CompletionLimits } from './types';
import { chatCompletion, chatCompletionEvents, type OpenAIErrorBody, type Reply } from './openai-shapes';
import { completionText, countPromptTokens } from './usage';
import { InvalidInput, isRecord } from './validation';

export interface ChatRequest {
  /** As requested, `:fault=` suffix included. */
  model: string;
  messages: Record<string, unknown>[];
  stream: boolean;
  includeUsage: boolean;
  maxTokens?: number;
  /** Both limit fields as sent, absent ones left out. */
  completionLimits: CompletionLimits;
}

export interface StreamPlan {
  intervalMs: number;
  /** Drop the connection after this many events (or, with `errorEvent`, send it and end). */
  failAfterChunks?: number;
  errorEvent?: OpenAIErrorBody;
  /** Send the first half of the events' bytes, then end the response as if it were complete. */
  truncated?: boolean;
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
  };
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

/** `completionWords` words, cut to the request's max tokens (one word is one token) with finish_reason 'length'. */
export function buildReply(request: ChatRequest, model: string, seq: number, completionWords: number): Reply {
  const cut = request.maxTokens !== undefined && request.maxTokens < completionWords;
  const text = completionText(cut ? (request.maxTokens as number) : completionWords);
  const promptTokens = countPromptTokens(request.messages);
  return {
    id: `chatcmpl-sim-${seq}`,
    created: Math.floor(Date.now() / 1000),
    model,
    pieces: text.pieces,
    content: text.content,
    finishReason: cut ? 'length' : 'stop',
    usage: { prompt_tokens: promptTokens, completion_tokens: text.tokens, total_tokens: promptTokens + text.tokens },
  };
}

export function sendCompletion(ex: Exchange, reply: Reply, truncated = false): void {
  const json = JSON.stringify(chatCompletion(reply));
  ex.sendJson(200, truncated ? firstHalfOf(json) : json);
}

/** A body cut half-way, sent with its own (correct) length: the HTTP exchange is complete, the JSON is not. */
export function firstHalfOf(text: string): string {
  return text.slice(0, Math.floor(text.length / 2));
}

/** Streams the reply event by event, `intervalMs` apart, each written (and so flushed) on its own. */
export async function streamCompletion(ex: Exchange, reply: Reply, includeUsage: boolean, plan: StreamPlan): Promise<void> {
  const events = chatCompletionEvents(reply, includeUsage);
  ex.startStream();
  if (plan.truncated) return ex.end(firstHalfOf(events.join('')));
  const cut = Math.min(plan.failAfterChunks ?? events.length, events.length);
  const sent = events.slice(0, cut);
  if (plan.errorEvent) sent.push(`data: ${JSON.stringify(plan.errorEvent)}\n\n`);
  // An in-stream error ends the response cleanly; a cut without one drops the connection.
  const complete = plan.errorEvent !== undefined || cut === events.length;
  const finish = (data: string) => (complete ? ex.end(data) : ex.writeThenDrop(data));
  if (plan.intervalMs === 0 || sent.length === 0) return finish(sent.join(''));
  for (let i = 0; i < sent.length - 1; i++) {
    ex.write(sent[i]);
    await ex.delay(plan.intervalMs);
  }
  finish(sent[sent.length - 1]);
}
