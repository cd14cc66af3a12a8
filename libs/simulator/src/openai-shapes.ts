import { azureHeaders } from './azure';
import type { TokenLogprob } from './logprobs';
import type { SimulatorCall } from './types';

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string | null;
    param: string | null;
    code: string | null;
    /** Azure repeats the status in the body, and explains a content_filter error in `innererror`. */
    status?: number;
    innererror?: object;
  };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: {
    reasoning_tokens: number;
    audio_tokens: number;
    accepted_prediction_tokens: number;
    rejected_prediction_tokens: number;
  };
}

export interface ReplyChoice {
  /** What the model wrote (the content, or the tool call's arguments), each piece one streamed delta. */
  pieces: readonly string[];
  content: string;
  /** Completion tokens of this choice. */
  tokens: number;
  /** When set, the choice calls this function and `content` is its arguments. */
  toolCall?: { id: string; name: string };
  finishReason: 'stop' | 'length' | 'tool_calls';
  /** One per piece, when the request asked for logprobs. */
  logprobs?: readonly TokenLogprob[];
}

export interface Reply {
  id: string;
  created: number;
  model: string;
  choices: readonly ReplyChoice[];
  usage: Usage;
}

const SYSTEM_FINGERPRINT = 'fp_simulator';

export function errorBody(message: string, type: string | null, param: string | null = null, code: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

/** Chat usage; the reasoning tokens are among the completion tokens, not on top of them. */
export function chatUsage(promptTokens: number, completionTokens: number, cachedTokens: number, reasoningTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: cachedTokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: reasoningTokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export function chatCompletion(reply: Reply) {
  return {
    id: reply.id,
    object: 'chat.completion',
    created: reply.created,
    model: reply.model,
    choices: reply.choices.map((choice, index) => ({
      index,
      message: choice.toolCall
        ? {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [{ id: choice.toolCall.id, type: 'function', function: { name: choice.toolCall.name, arguments: choice.content } }],
          }
        : { role: 'assistant', content: choice.content, refusal: null },
      logprobs: choice.logprobs ? { content: choice.logprobs, refusal: null } : null,
      finish_reason: choice.finishReason,
    })),
    usage: reply.usage,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/**
 * The server-sent events of a streamed reply, `data: [DONE]` included, one string per event.
 * Each chunk carries one choice; the choices take turns, step by step, as OpenAI interleaves them.
 */
export function chatCompletionEvents(reply: Reply, includeUsage: boolean): string[] {
  const chunk = (choices: unknown[], usage: Usage | null) => ({
    id: reply.id,
    object: 'chat.completion.chunk',
    created: reply.created,
    model: reply.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices,
    // OpenAI sends `usage: null` on every chunk but the last when usage is requested.
    ...(includeUsage ? { usage } : {}),
  });

  const perChoice = reply.choices.map(streamedChoice);
  const longest = Math.max(...perChoice.map((steps) => steps.length));
  const chunks: object[] = [];
  for (let step = 0; step < longest; step++) {
    for (const steps of perChoice) if (step < steps.length) chunks.push(chunk([steps[step]], null));
  }
  if (includeUsage) chunks.push(chunk([], reply.usage));
  return [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];
}

/** A choice's deltas: the role (with the tool call's id and name), then each piece, then the finish reason. */
function streamedChoice(choice: ReplyChoice, index: number): object[] {
  const step = (delta: object, logprobs: TokenLogprob | null = null, finishReason: ReplyChoice['finishReason'] | null = null) => ({
    index,
    delta,
    logprobs: logprobs && { content: [logprobs], refusal: null },
    finish_reason: finishReason,
  });
  const { toolCall } = choice;
  const opening = toolCall
    ? {
        role: 'assistant',
        content: null,
        tool_calls: [{ index: 0, id: toolCall.id, type: 'function', function: { name: toolCall.name, arguments: '' } }],
        refusal: null,
      }
    : { role: 'assistant', content: '', refusal: null };
  const delta = toolCall ? (piece: string) => ({ tool_calls: [{ index: 0, function: { arguments: piece } }] }) : (content: string) => ({ content });
  return [
    step(opening),
    ...choice.pieces.map((piece, i) => step(delta(piece), choice.logprobs?.[i] ?? null)),
    step({}, null, choice.finishReason),
  ];
}

const RATE_LIMIT_HEADERS: Readonly<Record<string, string>> = {
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-reset-requests': '6ms',
  'x-ratelimit-limit-tokens': '30000000',
  'x-ratelimit-remaining-tokens': '29999000',
  'x-ratelimit-reset-tokens': '2ms',
};

/** Headers OpenAI sends on every response, success or error (and Azure's request ids on its paths). */
export function standardHeaders(call: SimulatorCall): Record<string, string> {
  return {
    'x-request-id': `req_sim_${call.seq}`,
    'openai-organization': call.organization,
    'openai-project': call.project,
    'openai-processing-ms': String(Date.now() - call.receivedAt),
    ...RATE_LIMIT_HEADERS,
    ...(call.api === 'azure' ? azureHeaders(call) : {}),
  };
}
