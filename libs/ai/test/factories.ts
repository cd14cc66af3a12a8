import { APIConnectionError, APIError } from 'openai';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import type { Model } from 'openai/resources/models';
import type { Response, ResponseStreamEvent, ResponseUsage } from 'openai/resources/responses/responses';
import { AiModuleOptions, resolveAiOptions, ResolvedAiOptions } from '../src/ai-module-options';
import type { ChatRequest } from '../src/ai.service';
import type { CallRecord } from '../src/telemetry/call-events';

export const UPSTREAM_REQUEST_ID = 'req_upstream_1';

export function aChatCompletion(overrides: Partial<ChatCompletion> = {}): ChatCompletion {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-4o',
    choices: [
      { index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null }, finish_reason: 'stop', logprobs: null },
    ],
    usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    ...overrides,
  };
}

export function aChatCompletionChunk(content: string, overrides: Partial<ChatCompletionChunk> = {}): ChatCompletionChunk {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-4o',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
    ...overrides,
  };
}

export function anEmbeddingResponse(promptTokens = 4, vectors = 1): CreateEmbeddingResponse {
  const data = Array.from({ length: vectors }, (_, index) => ({ object: 'embedding' as const, index, embedding: [0.6, 0.8] }));
  return { object: 'list', model: 'text-embedding-3-small', data, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
}

export function aResponseUsage(input = 10, output = 4, details: { cached?: number; reasoning?: number } = {}): ResponseUsage {
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: details.cached ?? 0, cache_write_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: details.reasoning ?? 0 },
    total_tokens: input + output,
  };
}

/** A Responses API response of one message, `text`. */
export function aResponse(overrides: Partial<Response> = {}, text = 'Hello!'): Response {
  return {
    id: 'resp_1',
    object: 'response',
    created_at: 1_700_000_000,
    model: 'gpt-4o',
    status: 'completed',
    output: [{ type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] }],
    output_text: text,
    usage: aResponseUsage(),
    error: null,
    incomplete_details: null,
    instructions: null,
    metadata: null,
    parallel_tool_calls: true,
    temperature: null,
    tool_choice: 'auto',
    tools: [],
    top_p: null,
    ...overrides,
  };
}

/** The events of a streamed response: created, a text delta per word, then `final` with the response (and its usage). */
export function responseEventsOf(words: string[], final: 'response.completed' | 'response.failed' | 'response.incomplete' = 'response.completed', usage = aResponseUsage()): ResponseStreamEvent[] {
  const created = { type: 'response.created', sequence_number: 0, response: aResponse({ status: 'in_progress', output: [], usage: undefined }) };
  const deltas = words.map((delta, index) => ({ type: 'response.output_text.delta', sequence_number: index + 1, item_id: 'msg_1', output_index: 0, content_index: 0, delta, logprobs: [] }));
  const status = final === 'response.completed' ? 'completed' : final === 'response.failed' ? 'failed' : 'incomplete';
  const last = { type: final, sequence_number: words.length + 1, response: aResponse({ status, usage }, words.join('')) };
  return [created, ...deltas, last] as ResponseStreamEvent[];
}

export function aModel(id: string): Model {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'openai' };
}

export function aChatRequest(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], ...overrides };
}

export interface ApiErrorBody {
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
}

/**
 * What the `openai` SDK throws for an HTTP error answer: built by the SDK's own
 * `APIError.generate`, from OpenAI's error body and the response headers.
 */
export function anApiError(status: number, body: ApiErrorBody = {}, headers: Record<string, string> = {}): APIError {
  const error = {
    message: body.message ?? `Upstream answered ${status}.`,
    type: body.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
    code: body.code ?? null,
    param: body.param ?? null,
  };
  return APIError.generate(status, { error }, undefined, new Headers({ 'x-request-id': UPSTREAM_REQUEST_ID, ...headers }));
}

export const aRateLimitError = (headers: Record<string, string> = {}): APIError =>
  anApiError(
    429,
    { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached for gpt-4o on requests per min (RPM): Limit 500.' },
    headers,
  );

export const anInsufficientQuotaError = (headers: Record<string, string> = {}): APIError =>
  anApiError(
    429,
    {
      type: 'insufficient_quota',
      code: 'insufficient_quota',
      message: 'You exceeded your current quota, please check your plan and billing details.',
    },
    headers,
  );

/** What the SDK throws when fetch itself failed (DNS, reset socket…), `cause` being fetch's error. */
export function aConnectionError(cause: Error = new TypeError('fetch failed', { cause: new Error('read ECONNRESET') })): APIConnectionError {
  return new APIConnectionError({ cause });
}

/** Module options as a test needs them: a key, and whatever the test overrides. */
/** A database for a test of what needs one (tenants, limits, quotas, the ledger, jobs): it lives as long as its module. */
export const IN_MEMORY_DATABASE = { url: 'sqlite::memory:' };

export function anAiModuleOptions(overrides: Partial<AiModuleOptions> = {}): AiModuleOptions {
  return { upstream: { apiKey: 'sk-test' }, ...overrides };
}

export function resolvedOptions(overrides: Partial<AiModuleOptions> = {}): ResolvedAiOptions {
  return resolveAiOptions(anAiModuleOptions(overrides));
}

/** An admitted call's end, as the call path announces it. */
export function aCallRecord(overrides: Partial<CallRecord> = {}): CallRecord {
  return {
    requestId: 'req-1',
    tenantId: 'acme',
    keyId: null,
    endpoint: 'chat.completions',
    modelRequested: 'gpt-4o',
    modelServed: 'gpt-4o',
    promptTokens: 10,
    completionTokens: 5,
    cachedTokens: 0,
    reasoningTokens: 0,
    costUsd: 0.0002,
    attempts: 1,
    outcome: 'success',
    admitted: true,
    stream: false,
    latencyMs: 500,
    upstreamRequestId: null,
    upstream: 'openai',
    breakerState: 'closed',
    ...overrides,
  };
}
