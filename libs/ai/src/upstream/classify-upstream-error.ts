import { types } from 'node:util';
import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import {
  AiError,
  ContextLengthExceededError,
  RequestTooLargeError,
  UpstreamAuthFailedError,
  UpstreamBadRequestError,
  UpstreamModelNotFoundError,
  UpstreamPermissionDeniedError,
  UpstreamQuotaExhaustedError,
  UpstreamRateLimitedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../errors/ai-errors';
import { SecretScrubber } from '../secrets/secret-scrubber';
import { parseRetryAfterMs } from './retry-policy';

/** The upstream answered 2xx with a body that is not the JSON it should be: cut short, or not JSON at all. */
export class UnreadableUpstreamResponse extends Error {
  constructor(options?: ErrorOptions) {
    super('The upstream answered with a body that could not be read as the expected JSON', options);
    this.name = 'UnreadableUpstreamResponse';
  }
}

/**
 * Maps what the `openai` SDK threw for one upstream attempt to the library's error taxonomy
 * (DESIGN.md, "Error taxonomy"), and the client's UnreadableUpstreamResponse with them. Anything
 * else is a bug and is returned as is.
 * Upstream text enters the library here, so here it loses every secret `scrubber` knows of.
 */
export function classifyUpstreamError(error: unknown, model: string, nowMs: number, scrubber: SecretScrubber): unknown {
  if (error instanceof UnreadableUpstreamResponse) return new UpstreamUnavailableError('invalid_response', { cause: error });
  if (error instanceof APIConnectionTimeoutError) return new UpstreamTimeoutError('first_byte', { cause: error });
  if (error instanceof APIConnectionError) return classifyConnectionError(error);
  if (!(error instanceof APIError)) return error;
  scrubInPlace(error, scrubber);
  if (error.status === undefined) return error;

  const details = {
    cause: error,
    upstreamRequestId: error.requestID ?? error.headers?.get('x-ms-request-id') ?? error.headers?.get('apim-request-id') ?? undefined,
    retryAfterMs: parseRetryAfterMs(error.headers, nowMs),
  };
  const message = upstreamMessage(error);
  const status = error.status;

  if (status === 429) return classifyTooManyRequests(error, message, details);
  if (status === 401) return new UpstreamAuthFailedError(details);
  if (status === 403) return new UpstreamPermissionDeniedError(model, details);
  if (status === 404) return new UpstreamModelNotFoundError(model, details);
  if (status === 408 || status === 409 || status >= 500) return new UpstreamUnavailableError('upstream_error', details);
  if (error.code === 'context_length_exceeded') return new ContextLengthExceededError(message, details);
  return new UpstreamBadRequestError(message, { ...details, param: error.param, upstreamCode: error.code ?? undefined });
}

function classifyTooManyRequests(error: APIError, message: string, details: { cause: unknown; upstreamRequestId?: string; retryAfterMs?: number }): AiError {
  // OpenAI sends an exhausted account as a 429 too: never retry it.
  if (error.code === 'insufficient_quota' || error.type === 'insufficient_quota') {
    return new UpstreamQuotaExhaustedError({ ...details, retryAfterMs: undefined });
  }
  // Same code as a transient TPM limit, but the request alone exceeds the limit: no wait helps.
  if (/request too large/i.test(message)) return new RequestTooLargeError(message, { ...details, retryAfterMs: undefined });
  return new UpstreamRateLimitedError(details);
}

function classifyConnectionError(error: APIConnectionError): AiError {
  if (causeCodes(error).includes('UND_ERR_CONNECT_TIMEOUT')) return new UpstreamTimeoutError('connect', { cause: error });
  return new UpstreamUnavailableError('connection_failed', { cause: error });
}

/** The SDK error stays the cause, for logs: some upstreams quote the request's Authorization header back. */
function scrubInPlace(error: APIError, scrubber: SecretScrubber): void {
  error.message = scrubber.scrub(error.message);
  if (error.stack) error.stack = scrubber.scrub(error.stack);
  const body = error.error as { message?: unknown } | undefined;
  if (typeof body?.message === 'string') body.message = scrubber.scrub(body.message);
}

/** The upstream's own message, without the SDK's "429 " status prefix. */
function upstreamMessage(error: APIError): string {
  const body = error.error as { message?: unknown } | undefined;
  return typeof body?.message === 'string' ? body.message : error.message;
}

/**
 * The `code` of an error and of every error in its `cause` chain. Socket errors are made by Node's
 * core, in another realm than code run in a vm (Jest): `instanceof Error` alone would miss them.
 */
export function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let current = error; current instanceof Error || types.isNativeError(current); current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}
