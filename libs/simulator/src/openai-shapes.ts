import type { SimulatorCall } from './types';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface Reply {
  id: string;
  created: number;
  model: string;
  /** The content word by word, each piece as one streamed delta. */
  pieces: readonly string[];
  content: string;
  finishReason: 'stop' | 'length';
  usage: Usage;
}

const SYSTEM_FINGERPRINT = 'fp_simulator';

export function errorBody(message: string, type: string, param: string | null = null, code: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

export function chatCompletion(reply: Reply) {
  return {
    id: reply.id,
    object: 'chat.completion',
    created: reply.created,
    model: reply.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: reply.content, refusal: null },
        logprobs: null,
        finish_reason: reply.finishReason,
      },
    ],
    usage: reply.usage,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/** The server-sent events of a streamed reply, `data: [DONE]` included, one string per event. */
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
  const choice = (delta: object, finishReason: Reply['finishReason'] | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finishReason,
  });

  const chunks = [
    chunk([choice({ role: 'assistant', content: '', refusal: null })], null),
    ...reply.pieces.map((content) => chunk([choice({ content })], null)),
    chunk([choice({}, reply.finishReason)], null),
  ];
  if (includeUsage) chunks.push(chunk([], reply.usage));
  return [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];
}

const MODELS: ReadonlyArray<readonly [id: string, created: number]> = [
  ['gpt-4o', 1715367049],
  ['gpt-4o-mini', 1721172741],
  ['gpt-4.1', 1744316542],
  ['gpt-4.1-mini', 1744318173],
  ['gpt-3.5-turbo', 1677610602],
  ['o4-mini', 1744225351],
];

/** The fixed model list, serialised once. */
export const MODEL_LIST_JSON = JSON.stringify({
  object: 'list',
  data: MODELS.map(([id, created]) => ({ id, object: 'model', created, owned_by: 'tollgate-simulator' })),
});

const RATE_LIMIT_HEADERS: Readonly<Record<string, string>> = {
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-reset-requests': '6ms',
  'x-ratelimit-limit-tokens': '30000000',
  'x-ratelimit-remaining-tokens': '29999000',
  'x-ratelimit-reset-tokens': '2ms',
};

/** Headers OpenAI sends on every response, success or error. */
export function standardHeaders(call: SimulatorCall): Record<string, string> {
  return {
    'x-request-id': `req_sim_${call.seq}`,
    'openai-processing-ms': String(Date.now() - call.receivedAt),
    ...RATE_LIMIT_HEADERS,
  };
}
