import { Inject } from '@nestjs/common';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import type { Model } from 'openai/resources/models';

export interface UpstreamCallOptions {
  /** Aborting it must cancel the HTTP request (and an open stream). */
  signal: AbortSignal;
  /** The key this call authenticates with: chosen per attempt, so that a refused one can be replaced. */
  apiKey: string;
}

export interface UpstreamResponse<T> {
  data: T;
  /** The upstream's `x-request-id`. */
  requestId?: string;
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
}

export const UpstreamClient = Symbol('UpstreamClient');

export const InjectUpstreamClient = (): PropertyDecorator & ParameterDecorator => Inject(UpstreamClient);
