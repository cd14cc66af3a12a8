import { Inject } from '@nestjs/common';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';
import type { Model } from 'openai/resources/models';
import type {
  Response,
  ResponseCreateParamsNonStreaming,
  ResponseCreateParamsStreaming,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses';
import type { UpstreamEndpoint } from './upstream-pool-options';

export interface UpstreamCallOptions {
  /** Aborting it must cancel the HTTP request (and an open stream). */
  signal: AbortSignal;
  /** The key this call authenticates with: chosen per attempt, so that a refused one can be replaced. */
  apiKey: string;
  /** The upstream the call goes to: its URL and how its requests are written (OpenAI's, Azure's). */
  upstream: UpstreamEndpoint;
}

/** The organization and project the upstream says the key belongs to (OpenAI's `openai-organization`, `openai-project`). */
export interface UpstreamAccount {
  organization?: string;
  project?: string;
}

export interface UpstreamResponse<T> {
  data: T;
  /** The upstream's `x-request-id` (Azure: `x-ms-request-id`, `apim-request-id`). */
  requestId?: string;
  /** Whose key answered, where the upstream says so: for the wrong-key guard. */
  account?: UpstreamAccount;
}

/**
 * One HTTP call to an OpenAI-compatible upstream, with no retries of its own: Tollgate's
 * policy is the one layer that retries. Failures are thrown as the `openai` SDK's error
 * classes (`APIError` with `status`, `headers`, `code`, `type`; `APIConnectionError`).
 */
export interface UpstreamClient {
  createChatCompletion(
    body: ChatCompletionCreateParamsNonStreaming,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse<ChatCompletion>>;
  streamChatCompletion(
    body: ChatCompletionCreateParamsStreaming,
    options: UpstreamCallOptions,
  ): Promise<UpstreamResponse<AsyncIterable<ChatCompletionChunk>>>;
  listModels(options: UpstreamCallOptions): Promise<UpstreamResponse<Model[]>>;
  /** Releases connections; called once at shutdown, after the last call. */
  close?(): Promise<void>;
  createEmbeddings(body: EmbeddingCreateParams, options: UpstreamCallOptions): Promise<UpstreamResponse<CreateEmbeddingResponse>>;
  /** The Responses API (`POST /responses`). */
  createResponse(body: ResponseCreateParamsNonStreaming & { model: string }, options: UpstreamCallOptions): Promise<UpstreamResponse<Response>>;
  /** The Responses API's typed events, each as the upstream sent it (see as-received.ts), until its body ends. */
  streamResponse(body: ResponseCreateParamsStreaming & { model: string }, options: UpstreamCallOptions): Promise<UpstreamResponse<AsyncIterable<ResponseStreamEvent>>>;
}

export const UpstreamClient = Symbol('UpstreamClient');

export const InjectUpstreamClient = (): PropertyDecorator & ParameterDecorator => Inject(UpstreamClient);
