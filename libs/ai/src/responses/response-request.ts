import type {
  Response,
  ResponseCompletedEvent,
  ResponseCreateParamsBase,
  ResponseErrorEvent,
  ResponseFailedEvent,
  ResponseIncompleteEvent,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses';
import type { TenantRateLimitStates } from '../limits/rate-limit-state';
import type { UpstreamStream } from '../upstream/chat-stream';

/**
 * An OpenAI Responses API request; `stream` is chosen by calling `respond` or `respondStream`. The model is required
 * (the tenant's plan allows it and its quota prices it), and `background` is left out: a background response is
 * billed after the call has returned, past any reservation.
 */
export type ResponseRequest = Omit<ResponseCreateParamsBase, 'stream' | 'stream_options' | 'model' | 'background'> & { model: string };

/** A streamed request may set the stream's options. */
export type ResponseStreamRequest = ResponseRequest & Pick<ResponseCreateParamsBase, 'stream_options'>;

export interface ResponseResult {
  response: Response;
  /** The model that answered: the requested one or a fallback. */
  model: string;
  /** Upstream calls made, retries and fallbacks included. */
  attempts: number;
  upstreamRequestId?: string;
  /** The name of the upstream that answered. */
  upstream: string;
  /** Where the tenant stands against its rate limits after this call. */
  rateLimits: TenantRateLimitStates;
}

/** The Responses API's typed events, each as the upstream sent it, and where the tenant stands against its rate limits. */
export type GovernedResponseStream = UpstreamStream<ResponseStreamEvent> & { readonly rateLimits: TenantRateLimitStates };

/** The event that ends a response's stream, and carries its usage (`error` carries none). */
export type ResponseFinalEvent = ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent | ResponseErrorEvent;
