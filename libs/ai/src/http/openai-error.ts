import { HttpException } from '@nestjs/common';
import { AnyAiError, isAiError, UnavailableReason } from '../errors/ai-errors';
import { OpenAiErrorFields, OpenAiHttpException } from './openai-http.exception';
import { rateLimitHeaders } from './rate-limit-headers';

/** An error as an HTTP answer: OpenAI's status, body and headers. */
export interface OpenAiErrorResponse {
  status: number;
  body: { error: OpenAiErrorFields };
  headers: Record<string, string>;
}

export interface OpenAiErrorOptions {
  /** Named in the message of an unexpected error, so that the caller can quote it. @default none */
  requestId?: string;
  /** Who failed, in the message of an unexpected error. @default 'The server' */
  serverName?: string;
}

/** nginx's "client closed request": nobody reads it, but logs and metrics see the outcome. */
const CLIENT_CLOSED_REQUEST = 499;

/** The HTTP wording of a wait the library reports as `retryAfterMs`. */
const RETRY_AFTER_HINT = 'Retry after the time in the Retry-After header.';

/** Where the library's transport-neutral words read better as a server that relays the upstream. */
const UNAVAILABLE_OVER_HTTP: Partial<Record<UnavailableReason, string>> = {
  invalid_response: 'The upstream answered with a response the gateway could not read.',
};

const UPSTREAM_KEY_REJECTED =
  "The upstream rejected the gateway's API key. Your own key is fine: an operator must fix or rotate the upstream secret.";

/**
 * Anything a request handler can throw, as OpenAI's error JSON with the right status: every
 * `AiError` by its code, an `OpenAiHttpException` as given, other Nest `HttpException`s by their
 * status, and anything else as a 500 that shows nothing of the error.
 */
export function toOpenAiError(exception: unknown, options: OpenAiErrorOptions = {}): OpenAiErrorResponse {
  if (isAiError(exception)) return fromAiError(exception);
  if (exception instanceof OpenAiHttpException) return respond(exception.getStatus(), exception.fields);
  // The HTTP server's own refusals (a body too large, a bad header) reach here as HttpExceptions too.
  if (exception instanceof HttpException) return fromHttpException(exception);
  const { requestId, serverName = 'The server' } = options;
  return respond(500, {
    message: `${serverName} failed unexpectedly.${requestId ? ` Quote request id ${requestId} to its operator.` : ''}`,
    type: 'server_error',
    code: 'internal_error',
    param: null,
  });
}

/**
 * Failures after which Tollgate has already retried what could be retried (or its retry budget said no), or that no
 * retry soon can fix (a quota that renews tomorrow): OpenAI's SDKs retry 429 and 5xx twice by default, multiplying
 * the load, unless the answer says `x-should-retry: false`. A per-minute limit (`rate_limit_exceeded`) stays
 * retryable after its Retry-After.
 */
const RETRIES_SPENT = new Set<AnyAiError['code']>([
  'upstream_auth_failed',
  'upstream_rate_limited',
  'upstream_unavailable',
  'upstream_quota_exhausted',
  'upstream_timeout',
  'tenant_quota_exceeded',
]);

/** One library error as OpenAI's answer, with the tenant's `x-ratelimit-*` headers when the error carries them. */
export function fromAiError(error: AnyAiError): OpenAiErrorResponse {
  const response = statusOf(error);
  const shouldRetry: Record<string, string> = RETRIES_SPENT.has(error.code) ? { 'x-should-retry': 'false' } : {};
  return { ...response, headers: { ...rateLimitHeaders(error.rateLimits), ...response.headers, ...shouldRetry } };
}

function statusOf(error: AnyAiError): OpenAiErrorResponse {
  const { message, code } = error;
  switch (error.code) {
    case 'upstream_auth_failed':
      // A 502, never a 401: the caller's own key is fine.
      return respond(502, { message: UPSTREAM_KEY_REJECTED, type: 'server_error', code, param: null });
    case 'upstream_bad_request':
      return respond(400, { message, type: 'invalid_request_error', code: error.upstreamCode ?? null, param: error.param ?? null });
    case 'context_length_exceeded':
      return respond(400, { message, type: 'invalid_request_error', code, param: 'messages' });
    case 'completion_limit_too_large':
      return respond(400, { message, type: 'invalid_request_error', code: 'invalid_value', param: error.param ?? null });
    case 'request_too_large':
      return respond(413, { message, type: 'invalid_request_error', code, param: 'messages' });
    case 'upstream_permission_denied':
      return respond(403, { message, type: 'invalid_request_error', code, param: 'model' });
    case 'model_not_found':
      return respond(404, { message, type: 'invalid_request_error', code, param: 'model' });
    case 'upstream_rate_limited':
      return respond(503, { message: withRetryHint(message), type: 'server_error', code, param: null }, error.retryAfterMs);
    case 'upstream_unavailable':
      return respond(503, { message: withRetryHint(UNAVAILABLE_OVER_HTTP[error.reason] ?? message), type: 'server_error', code, param: null }, error.retryAfterMs);
    case 'upstream_quota_exhausted':
      return respond(503, { message, type: 'server_error', code, param: null }, error.retryAfterMs);
    case 'upstream_timeout':
      return respond(504, { message, type: 'server_error', code, param: null });
    case 'request_aborted':
      return respond(CLIENT_CLOSED_REQUEST, { message, type: 'invalid_request_error', code, param: null });
    case 'tenant_not_found':
    case 'api_key_not_found':
      return respond(404, { message, type: 'invalid_request_error', code, param: error.param ?? null });
    case 'tenant_exists':
      return respond(409, { message, type: 'invalid_request_error', code, param: error.param ?? null });
    case 'tenant_disabled':
      // As a revoked key is: another replica's key cache may still let the key through for its TTL.
      return respond(401, { message, type: 'invalid_request_error', code, param: null });
    case 'unknown_plan':
    case 'invalid_tenant_id':
    case 'invalid_limits':
      return respond(400, { message, type: 'invalid_request_error', code, param: error.param ?? null });
    case 'model_not_allowed':
      return respond(403, { message, type: 'invalid_request_error', code, param: 'model' });
    case 'rate_limit_exceeded':
      return respond(429, { message: withRetryHint(message), type: error.limit === 'tokens_per_minute' ? 'tokens' : 'requests', code, param: null }, error.retryAfterMs);
    case 'tenant_quota_exceeded':
      return respond(429, { message: `${message} It renews at the time in the Retry-After header.`, type: 'insufficient_quota', code, param: null }, error.retryAfterMs);
    case 'job_not_found':
      return respond(404, { message, type: 'invalid_request_error', code, param: null });
    case 'webhook_not_allowed':
      return respond(400, { message, type: 'invalid_request_error', code, param: 'webhook_url' });
    case 'too_many_jobs':
      return respond(429, { message: withRetryHint(message), type: 'requests', code, param: null }, error.retryAfterMs);
    case 'dependency_unavailable':
      return respond(503, { message, type: 'server_error', code, param: null }, error.retryAfterMs);
    case 'model_not_priced':
      return respond(400, { message, type: 'invalid_request_error', code, param: 'model' });
    default: {
      const unhandled: never = error;
      throw new Error(`No HTTP mapping for ${(unhandled as Error).name}`);
    }
  }
}

function withRetryHint(message: string): string {
  return `${message} ${RETRY_AFTER_HINT}`;
}

function fromHttpException(exception: HttpException): OpenAiErrorResponse {
  const status = exception.getStatus();
  const type = status >= 500 ? 'server_error' : 'invalid_request_error';
  return respond(status, { message: exception.message, type, code: null, param: null });
}

function respond(status: number, fields: OpenAiErrorFields, retryAfterMs?: number): OpenAiErrorResponse {
  return { status, body: { error: fields }, headers: retryAfterHeaders(status, retryAfterMs) };
}

/** Every 429 and 503 says when to come back, in whole seconds and, for OpenAI's SDKs, in milliseconds. */
export function retryAfterHeaders(status: number, retryAfterMs: number | undefined): Record<string, string> {
  if (status !== 429 && status !== 503) return {};
  const ms = Math.max(1000, Math.ceil(retryAfterMs ?? 1000));
  return { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) };
}
