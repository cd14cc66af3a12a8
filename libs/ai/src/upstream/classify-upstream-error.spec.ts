import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { errors as undiciErrors } from 'undici';
import {
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
import { aConnectionError, anApiError, anInsufficientQuotaError, aRateLimitError, UPSTREAM_REQUEST_ID } from '../../test/factories';
import { SecretScrubber } from '../secrets/secret-scrubber';
import { classifyUpstreamError, UnreadableUpstreamResponse } from './classify-upstream-error';

const MODEL = 'gpt-4o';
const NOW = 1_700_000_000_000;
/** Shaped like no credential: only the scrubber's knowing it can hide it. */
const UPSTREAM_KEY = '0123456789abcdef0123456789abcdef';
const classify = (error: unknown) => classifyUpstreamError(error, MODEL, NOW, new SecretScrubber(() => [UPSTREAM_KEY]));
const ECHO = `Invalid header 'Authorization: Bearer ${UPSTREAM_KEY}' (see also sk-proj-abcdefgh12345678, api-key ${UPSTREAM_KEY}).`;
const SCRUBBED_ECHO = "Invalid header 'Authorization: Bearer [redacted]' (see also [redacted], api-key [redacted]).";

const NOTHING_TO_RETRY = { retryable: false, tripsBreaker: false, triesFallback: false };
const TRANSIENT = { retryable: true, tripsBreaker: true, triesFallback: true };

describe('classifyUpstreamError', () => {
  it('should classify a 400 context_length_exceeded as ContextLengthExceededError, not retried', () => {
    const message = "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.";
    const error = classify(anApiError(400, { code: 'context_length_exceeded', param: 'messages', message }));

    expect(error).toBeInstanceOf(ContextLengthExceededError);
    expect(error).toMatchObject({ code: 'context_length_exceeded', message, param: 'messages', policy: NOTHING_TO_RETRY });
  });

  it('should pass the message, param and code of any other 400 on, not retried', () => {
    const message = "Invalid value for 'temperature': must be between 0 and 2.";
    const error = classify(anApiError(400, { code: 'invalid_value', param: 'temperature', message }));

    expect(error).toBeInstanceOf(UpstreamBadRequestError);
    expect(error).toMatchObject({ code: 'upstream_bad_request', message, param: 'temperature', upstreamCode: 'invalid_value', policy: NOTHING_TO_RETRY });
  });

  it('should classify a 401 as UpstreamAuthFailedError, never as the tenant key being wrong', () => {
    const error = classify(anApiError(401, { code: 'invalid_api_key', message: 'Incorrect API key provided: sk-abc***' }));

    expect(error).toBeInstanceOf(UpstreamAuthFailedError);
    expect(error).toMatchObject({ code: 'upstream_auth_failed', policy: NOTHING_TO_RETRY });
    expect((error as Error).message).not.toContain('sk-abc');
  });

  it('should classify a 403 as UpstreamPermissionDeniedError that tries the fallbacks', () => {
    const error = classify(anApiError(403, { code: 'model_not_allowed' }));

    expect(error).toBeInstanceOf(UpstreamPermissionDeniedError);
    expect(error).toMatchObject({ code: 'upstream_permission_denied', policy: { retryable: false, tripsBreaker: false, triesFallback: true } });
    expect((error as Error).message).toContain(MODEL);
  });

  it('should classify a 404 as UpstreamModelNotFoundError that tries the fallbacks', () => {
    const error = classify(anApiError(404, { code: 'model_not_found' }));

    expect(error).toBeInstanceOf(UpstreamModelNotFoundError);
    expect(error).toMatchObject({ code: 'model_not_found', policy: { retryable: false, tripsBreaker: false, triesFallback: true } });
  });

  it.each([408, 409, 500, 502, 503])('should classify a %i as a transient UpstreamUnavailableError', (status) => {
    const error = classify(anApiError(status));

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ code: 'upstream_unavailable', reason: 'upstream_error', policy: TRANSIENT });
  });

  it('should pass on the retry-after of a 503', () => {
    expect(classify(anApiError(503, {}, { 'retry-after': '7' }))).toMatchObject({ retryAfterMs: 7_000 });
  });

  it('should classify a 429 rate_limit_exceeded as retryable with the retry-after-ms wait', () => {
    const error = classify(aRateLimitError({ 'retry-after-ms': '1200', 'retry-after': '2' }));

    expect(error).toBeInstanceOf(UpstreamRateLimitedError);
    // The key's limit, which rests the key: not the upstream's health, which the breaker counts.
    expect(error).toMatchObject({ code: 'upstream_rate_limited', retryAfterMs: 1_200, policy: { ...TRANSIENT, tripsBreaker: false } });
  });

  it('should classify a 429 insufficient_quota as UpstreamQuotaExhaustedError, never retried, whatever its headers say', () => {
    const error = classify(anInsufficientQuotaError({ 'retry-after': '20' }));

    expect(error).toBeInstanceOf(UpstreamQuotaExhaustedError);
    expect(error).toMatchObject({ code: 'upstream_quota_exhausted', retryAfterMs: undefined, policy: NOTHING_TO_RETRY });
  });

  it('should recognise insufficient_quota by its code alone', () => {
    expect(classify(anApiError(429, { type: 'requests', code: 'insufficient_quota' }))).toBeInstanceOf(UpstreamQuotaExhaustedError);
  });

  it('should recognise insufficient_quota by its type alone', () => {
    expect(classify(anApiError(429, { type: 'insufficient_quota', code: null }))).toBeInstanceOf(UpstreamQuotaExhaustedError);
  });

  it('should classify a 429 "Request too large" as RequestTooLargeError, not retried', () => {
    const message =
      'Request too large for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Requested 45000. The input or output tokens must be reduced in order to run successfully.';
    const error = classify(anApiError(429, { type: 'tokens', code: 'rate_limit_exceeded', message }, { 'retry-after': '1' }));

    expect(error).toBeInstanceOf(RequestTooLargeError);
    expect(error).toMatchObject({ code: 'request_too_large', message, retryAfterMs: undefined, policy: NOTHING_TO_RETRY });
  });

  it('should classify an APIConnectionError as connection_failed, retryable', () => {
    const cause = aConnectionError();
    const error = classify(cause);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ reason: 'connection_failed', policy: TRANSIENT, cause });
  });

  it('should classify an APIConnectionTimeoutError as a retryable timeout', () => {
    const error = classify(new APIConnectionTimeoutError());

    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error).toMatchObject({ code: 'upstream_timeout', timeout: 'first_byte', policy: TRANSIENT });
  });

  it('should classify a connection error caused by UND_ERR_CONNECT_TIMEOUT as a connect timeout', () => {
    const error = classify(new APIConnectionError({ cause: new TypeError('fetch failed', { cause: new undiciErrors.ConnectTimeoutError() }) }));

    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error).toMatchObject({ timeout: 'connect', policy: TRANSIENT });
  });

  it('should return an error that is not the SDK\'s as is', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'choices')");

    expect(classify(bug)).toBe(bug);
  });

  it('should return an SDK error without a status (a user abort) as is', () => {
    const abort = new APIUserAbortError();

    expect(classify(abort)).toBe(abort);
  });

  it.each([400, 401, 404, 429, 500])('should carry the upstream request id of a %i', (status) => {
    expect(classify(anApiError(status))).toMatchObject({ upstreamRequestId: UPSTREAM_REQUEST_ID });
  });

  it.each([
    ['a 400', anApiError(400, { message: ECHO })],
    ['a 400 context_length_exceeded', anApiError(400, { code: 'context_length_exceeded', message: ECHO })],
    ['a 429 "Request too large"', anApiError(429, { code: 'rate_limit_exceeded', message: `Request too large. ${ECHO}` })],
  ])('should scrub the upstream key and key-shaped tokens from the relayed message of %s', (_what, upstream) => {
    const error = classify(upstream) as Error;

    expect(error.message).toContain(SCRUBBED_ECHO);
    expect(error.message).not.toContain(UPSTREAM_KEY);
  });

  it.each([400, 401, 500])('should scrub the SDK error of a %i kept as the cause, since logs print it', (status) => {
    const upstream = anApiError(status, { message: ECHO });

    const { cause } = classify(upstream) as Error & { cause: APIError };

    expect(cause.message).toBe(`${status} ${SCRUBBED_ECHO}`);
    expect(cause.stack).not.toContain(UPSTREAM_KEY);
    expect((cause.error as { message: string }).message).toBe(SCRUBBED_ECHO);
  });

  it('should scrub an in-stream error (an SDK error without a status) that it returns as is', () => {
    const inStream = new APIError(undefined, { message: ECHO, type: 'server_error' }, undefined, new Headers());

    const error = classify(inStream) as APIError;

    expect(error).toBe(inStream);
    expect(JSON.stringify(error.error)).not.toContain(UPSTREAM_KEY);
    expect(error.stack).not.toContain(UPSTREAM_KEY);
  });

  it('should classify a 2xx body that cannot be read as a transient UpstreamUnavailableError, counted by the breaker', () => {
    const unreadable = new UnreadableUpstreamResponse({ cause: new SyntaxError('Unexpected end of JSON input') });

    const error = classify(unreadable);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ code: 'upstream_unavailable', reason: 'invalid_response', policy: TRANSIENT, cause: unreadable });
  });

  it('should keep the SDK error as the cause, for logs', () => {
    const upstream = anApiError(500);

    expect(classify(upstream)).toMatchObject({ cause: upstream });
  });
});
