import type { ResponseUsage } from 'openai/resources/responses/responses';
import type { BilledUsage, MediaPart, MeteredCall } from '../chat/admissions';
import { REPLY_PRIMING, TOKENS_PER_MESSAGE } from '../context/token-counter';
import type { ResponseRequest } from './response-request';

/** Strings the model does not read as text: identifiers, states, and media data, which is bounded as media instead. */
const NOT_TEXT = new Set(['type', 'id', 'call_id', 'status', 'image_url', 'file_id', 'file_url', 'file_data', 'data', 'format', 'detail']);
/** Tools the client runs: their calls and outputs are in the input. Any other tool runs upstream and adds input nobody sent. */
const CLIENT_TOOLS = new Set(['function', 'custom', 'namespace']);

/**
 * A Responses API request as admission meters it. Its text is counted as chat's is (per item its framing, then every
 * string it holds), its images, audio and files are bounded as media. Where part of the prompt is not in the request —
 * a previous response or conversation, a stored prompt, a referenced item, a hosted tool's results — the prompt is
 * reserved at `largestPrompt`, the most any serving model can read.
 */
export function meteredResponse(request: ResponseRequest, count: (text: string) => number, largestPrompt: number): MeteredCall {
  const mediaParts: MediaPart[] = [];
  let promptTokens = REPLY_PRIMING + countItem(request.instructions, count, mediaParts) + countItem(request.input, count, mediaParts);
  if (request.tools?.length) promptTokens += count(JSON.stringify(request.tools));
  if (request.text?.format) promptTokens += count(JSON.stringify(request.text.format));
  return {
    endpoint: 'responses',
    model: request.model,
    promptTokens: hasUnseenInput(request) ? Math.max(promptTokens, largestPrompt) : promptTokens,
    countedPromptTokens: promptTokens,
    mediaParts,
    completionLimit: request.max_output_tokens ?? undefined,
    choices: 1,
    content: { input: request.input },
  };
}

/** The text of the instructions or input: a string is one message, an array one message per item. */
function countItem(value: unknown, count: (text: string) => number, media: MediaPart[]): number {
  if (value == null) return 0;
  if (!Array.isArray(value)) return TOKENS_PER_MESSAGE + countStrings(value, count, media);
  return value.reduce((sum: number, item: unknown) => sum + TOKENS_PER_MESSAGE + countStrings(item, count, media), 0);
}

/** Every string a value holds, each counted; media parts are collected in `media`, whatever the depth. */
function countStrings(value: unknown, count: (text: string) => number, media: MediaPart[]): number {
  if (typeof value === 'string') return count(value);
  if (typeof value !== 'object' || value === null) return 0;
  if (Array.isArray(value)) return value.reduce((sum: number, each: unknown) => sum + countStrings(each, count, media), 0);
  const part = mediaPartOf(value as Record<string, unknown>);
  if (part) media.push(part);
  let total = 0;
  for (const [key, field] of Object.entries(value)) if (!NOT_TEXT.has(key)) total += countStrings(field, count, media);
  return total;
}

/** A Responses API content part of an image, audio or file, as the chat part it is billed like. */
function mediaPartOf(part: Record<string, unknown>): MediaPart | undefined {
  switch (part.type) {
    case 'input_image':
      return { type: 'image_url', image_url: { url: '', detail: part.detail === 'low' ? 'low' : 'high' } };
    case 'input_file':
      return { type: 'file', file: {} };
    case 'input_audio': {
      const audio = part.input_audio as { data?: unknown } | undefined;
      return { type: 'input_audio', input_audio: { data: typeof audio?.data === 'string' ? audio.data : '', format: 'mp3' } };
    }
    default:
      return undefined;
  }
}

function hasUnseenInput(request: ResponseRequest): boolean {
  if (request.previous_response_id || request.conversation || request.prompt) return true;
  if (request.tools?.some((tool) => !CLIENT_TOOLS.has(tool.type))) return true;
  return Array.isArray(request.input) && request.input.some(isStoredItem);
}

/** A reference to a stored item (its `type` may be left out: then it has neither type nor role), or a compaction of earlier turns. */
function isStoredItem(item: object): boolean {
  const { type, role } = item as { type?: unknown; role?: unknown };
  return type === 'item_reference' || type === 'compaction' || (type == null && role == null);
}

/** The Responses API's usage, as it is billed: cached input tokens are part of the input's, reasoning tokens of the output's. */
export function billedResponseUsage(usage: ResponseUsage | null | undefined): BilledUsage | undefined {
  if (!usage) return undefined;
  return {
    promptTokens: usage.input_tokens,
    completionTokens: usage.output_tokens,
    cachedTokens: usage.input_tokens_details?.cached_tokens ?? 0,
    reasoningTokens: usage.output_tokens_details?.reasoning_tokens ?? 0,
  };
}
