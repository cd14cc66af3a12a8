import { AZURE_CONTENT_FILTER } from './azure';
import { DEFAULT_ORGANIZATION } from './keys';
import { errorBody, type OpenAIErrorBody } from './openai-shapes';
import type { FaultPreset, SimulatedFault } from './types';

export interface FaultContext {
  /** The requested model (without any `:fault=` suffix); absent on /v1/models. */
  model?: string;
  /** The key presented, only ever shown masked (but by `echo_auth`, which exists to test that callers scrub it). */
  apiKey?: string;
  /** The organization of the key, which rate-limit messages name. */
  organization: string;
  stream: boolean;
  /** The endpoint reports a failure after acceptance in a 200 body, as the Responses API does with status 'failed'. */
  reportsFailureInBody?: boolean;
}

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: OpenAIErrorBody;
}

/** What a call gets once its fault (if any) is applied. */
export type FaultOutcome =
  | { kind: 'error'; response: ErrorResponse }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'respond'; chunkIntervalMs?: number; failAfterChunks?: number; errorEvent?: OpenAIErrorBody; truncated?: boolean };

export interface ErrorPreset {
  status: number;
  type: string | null;
  code: string | null;
  param?: string;
  message: (ctx: FaultContext) => string;
  headers?: Record<string, string>;
  /** Fields of the error object besides OpenAI's four (Azure adds some). */
  extraFields?: Pick<OpenAIErrorBody['error'], 'status' | 'innererror'>;
}

type BehaviourPreset = 'hang' | 'reset' | 'mid_stream_failure' | 'truncated_body';

/** The key-shaped token `echo_auth` repeats besides the caller's own key: no real key, but shaped like one. */
export const ECHOED_KEY_SHAPED_TOKEN = 'sk-proj-simulatorEcho0123456789abcdef';

const RATE_LIMITS_DOCS = 'Visit https://platform.openai.com/account/rate-limits to learn more.';
const modelName = (ctx: FaultContext) => ctx.model ?? 'this endpoint';

const ERROR_PRESETS: Record<Exclude<FaultPreset, BehaviourPreset>, ErrorPreset> = {
  rate_limit_exceeded: {
    status: 429,
    type: 'requests',
    code: 'rate_limit_exceeded',
    message: (ctx) =>
      `Rate limit reached for ${modelName(ctx)} in organization ${ctx.organization} on requests per min (RPM): ` +
      `Limit 60, Used 60, Requested 1. Please try again in 1s. ${RATE_LIMITS_DOCS}`,
    headers: {
      'retry-after': '1',
      'retry-after-ms': '1000',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1s',
    },
  },
  request_too_large: {
    status: 429,
    type: 'tokens',
    code: 'rate_limit_exceeded',
    message: (ctx) =>
      `Request too large for ${modelName(ctx)} in organization ${ctx.organization} on tokens per min (TPM): ` +
      `Limit 30000, Requested 31538. The input or output tokens must be reduced in order to run successfully. ${RATE_LIMITS_DOCS}`,
  },
  insufficient_quota: {
    status: 429,
    type: 'insufficient_quota',
    code: 'insufficient_quota',
    message: () =>
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, ' +
      'read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
  },
  context_length_exceeded: {
    status: 400,
    type: 'invalid_request_error',
    code: 'context_length_exceeded',
    param: 'messages',
    message: () =>
      "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. " +
      'Please reduce the length of the messages.',
  },
  bad_request: {
    status: 400,
    type: 'invalid_request_error',
    code: null,
    message: () => "Invalid value for 'temperature': expected a number between 0 and 2.",
  },
  invalid_api_key: {
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: (ctx) =>
      ctx.apiKey === undefined
        ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
          '(i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you\'re accessing the API ' +
          'from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.'
        : `Incorrect API key provided: ${maskKey(ctx.apiKey)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
  },
  // Some proxies and OpenAI-compatible servers quote the offending header back in full.
  echo_auth: {
    status: 400,
    type: 'invalid_request_error',
    code: null,
    message: (ctx) =>
      `Invalid header 'Authorization: Bearer ${ctx.apiKey ?? ''}': the organization of this key differs from ` +
      `the one of key ${ECHOED_KEY_SHAPED_TOKEN}.`,
  },
  permission_denied: {
    status: 403,
    type: 'invalid_request_error',
    code: null,
    message: () => 'You are not allowed to access this model.',
  },
  model_not_found: {
    status: 404,
    type: 'invalid_request_error',
    code: 'model_not_found',
    message: (ctx) => `The model \`${modelName(ctx)}\` does not exist or you do not have access to it.`,
  },
  request_timeout: {
    status: 408,
    type: 'server_error',
    code: null,
    message: () => 'Request timed out.',
  },
  conflict: {
    status: 409,
    type: 'invalid_request_error',
    code: null,
    message: () => 'The request conflicted with another request in progress. Please try again.',
  },
  server_error: {
    status: 500,
    type: 'server_error',
    code: null,
    message: () => 'The server had an error while processing your request. Sorry about that!',
  },
  bad_gateway: {
    status: 502,
    type: 'server_error',
    code: null,
    message: () => 'Bad gateway.',
  },
  overloaded: {
    status: 503,
    type: 'server_error',
    code: null,
    message: () => 'The engine is currently overloaded, please try again later.',
  },
  // The error of OpenAI's own response.failed example; see outcomeOf for where it goes.
  response_failed: {
    status: 500,
    type: 'server_error',
    code: 'server_error',
    message: () => 'The model failed to generate a response.',
  },
  content_filter: AZURE_CONTENT_FILTER,
};

/** The preset whose body a bare `status` fault borrows. */
const PRESET_FOR_STATUS: Readonly<Record<number, keyof typeof ERROR_PRESETS>> = {
  400: 'bad_request',
  401: 'invalid_api_key',
  403: 'permission_denied',
  404: 'model_not_found',
  408: 'request_timeout',
  409: 'conflict',
  429: 'rate_limit_exceeded',
  500: 'server_error',
  502: 'bad_gateway',
  503: 'overloaded',
};

const BEHAVIOUR_PRESETS: ReadonlySet<string> = new Set<BehaviourPreset>(['hang', 'reset', 'mid_stream_failure', 'truncated_body']);
const MID_STREAM_FAILURE_CHUNKS = 2;

export function isFaultPreset(value: unknown): value is FaultPreset {
  return typeof value === 'string' && (Object.hasOwn(ERROR_PRESETS, value) || BEHAVIOUR_PRESETS.has(value));
}

/** Like OpenAI: a few characters of a long key, nothing of a short one. */
function maskKey(key: string): string {
  return key.length >= 20 ? `${key.slice(0, 3)}...${key.slice(-4)}` : '********';
}

export function faultLabel(fault: SimulatedFault): string {
  if (fault.preset) return fault.preset;
  return fault.status === undefined ? 'custom' : `status:${fault.status}`;
}

function errorPresetFor(fault: SimulatedFault): ErrorPreset | undefined {
  if (fault.preset && !BEHAVIOUR_PRESETS.has(fault.preset)) {
    return ERROR_PRESETS[fault.preset as keyof typeof ERROR_PRESETS];
  }
  if (fault.status === undefined) return undefined;
  const preset = PRESET_FOR_STATUS[fault.status];
  if (preset) return ERROR_PRESETS[preset];
  const type = fault.status >= 500 ? 'server_error' : 'invalid_request_error';
  return { status: fault.status, type, code: null, message: () => `Simulated error with status ${fault.status}.` };
}

/** The error a fault answers with, or undefined when it is not an error (hang, reset, latency only…). */
export function errorResponseFor(fault: SimulatedFault, ctx: FaultContext): ErrorResponse | undefined {
  const preset = errorPresetFor(fault);
  return preset && buildErrorResponse(preset, fault, ctx);
}

export function invalidKeyResponse(apiKey: string | undefined): ErrorResponse {
  return buildErrorResponse(ERROR_PRESETS.invalid_api_key, {}, { apiKey, organization: DEFAULT_ORGANIZATION, stream: false });
}

function buildErrorResponse(preset: ErrorPreset, fault: SimulatedFault, ctx: FaultContext): ErrorResponse {
  const headers = { ...preset.headers };
  if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
  if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs);
  Object.assign(headers, fault.headers);
  const param = fault.param !== undefined ? fault.param : (preset.param ?? null);
  const body = errorBody(fault.message ?? preset.message(ctx), fault.type ?? preset.type, param, fault.code ?? preset.code);
  Object.assign(body.error, preset.extraFields);
  return { status: fault.status ?? preset.status, headers, body };
}

/**
 * An explicit `status` wins over a behaviour preset: `{ preset: 'hang', status: 500 }` is a 500.
 * An error with `failAfterChunks` (which `response_failed` has by default) comes inside a stream; `response_failed`
 * on the Responses API comes in a 200 body even without one; any other error is an error response.
 */
export function outcomeOf(fault: SimulatedFault, ctx: FaultContext): FaultOutcome {
  const response = errorResponseFor(fault, ctx);
  if (response) {
    const { chunkIntervalMs } = fault;
    const failAfterChunks = fault.failAfterChunks ?? (fault.preset === 'response_failed' ? MID_STREAM_FAILURE_CHUNKS : undefined);
    if (ctx.stream && failAfterChunks !== undefined) return { kind: 'respond', chunkIntervalMs, failAfterChunks, errorEvent: response.body };
    if (fault.preset === 'response_failed' && ctx.reportsFailureInBody) return { kind: 'respond', chunkIntervalMs, errorEvent: response.body };
    return { kind: 'error', response };
  }
  if (fault.preset === 'truncated_body') return { kind: 'respond', chunkIntervalMs: fault.chunkIntervalMs, truncated: true };
  if (fault.preset === 'hang') return { kind: 'hang' };
  if (fault.preset === 'reset' || (fault.preset === 'mid_stream_failure' && !ctx.stream)) return { kind: 'reset' };
  const failAfterChunks = fault.failAfterChunks ?? (fault.preset === 'mid_stream_failure' ? MID_STREAM_FAILURE_CHUNKS : undefined);
  return { kind: 'respond', chunkIntervalMs: fault.chunkIntervalMs, failAfterChunks };
}
