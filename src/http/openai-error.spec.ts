import { BadRequestException, NotFoundException } from '@nestjs/common';
import {
  AnyAiError,
  ContextLengthExceededError,
  RequestAbortedError,
  RequestTooLargeError,
  UpstreamAuthFailedError,
  UpstreamBadRequestError,
  UpstreamModelNotFoundError,
  UpstreamPermissionDeniedError,
  UpstreamQuotaExhaustedError,
  UpstreamRateLimitedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '@tollgate/ai';
import { GatewayHttpException } from './gateway-http.exception';
import { toOpenAiError } from './openai-error';

describe('toOpenAiError', () => {
  const map = (error: unknown) => toOpenAiError(error, 'req-1');

  it.each<[string, AnyAiError, number, string | null]>([
    ['upstream 401', new UpstreamAuthFailedError(), 502, 'upstream_auth_failed'],
    ['upstream 400', new UpstreamBadRequestError('bad temperature', { upstreamCode: 'invalid_value', param: 'temperature' }), 400, 'invalid_value'],
    ['context length', new ContextLengthExceededError('too long'), 400, 'context_length_exceeded'],
    ['request too large', new RequestTooLargeError('too large'), 413, 'request_too_large'],
    ['upstream 403', new UpstreamPermissionDeniedError('gpt-x'), 403, 'upstream_permission_denied'],
    ['upstream 404', new UpstreamModelNotFoundError('gpt-x'), 404, 'model_not_found'],
    ['upstream 429 exhausted', new UpstreamRateLimitedError({ retryAfterMs: 2500 }), 503, 'upstream_rate_limited'],
    ['upstream 5xx exhausted', new UpstreamUnavailableError('upstream_error', { retryAfterMs: 1000 }), 503, 'upstream_unavailable'],
    ['insufficient_quota', new UpstreamQuotaExhaustedError({ retryAfterMs: 30_000 }), 503, 'upstream_quota_exhausted'],
    ['timeout', new UpstreamTimeoutError('first_byte'), 504, 'upstream_timeout'],
    ['caller gone', new RequestAbortedError(), 499, 'request_aborted'],
  ])('should map %s to %d %s', (_row, error, status, code) => {
    const response = map(error);

    expect(response.status).toBe(status);
    expect(response.body.error.code).toBe(code);
    expect(response.body.error.message).toBe(error.message);
    expect(Object.keys(response.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('should pass on the upstream param of a bad request', () => {
    const response = map(new UpstreamBadRequestError('bad temperature', { param: 'temperature' }));

    expect(response.body.error.param).toBe('temperature');
    expect(response.body.error.type).toBe('invalid_request_error');
  });

  it('should give every 503 a Retry-After in whole seconds, rounded up, and in milliseconds', () => {
    const response = map(new UpstreamRateLimitedError({ retryAfterMs: 2500 }));

    expect(response.headers).toEqual({ 'retry-after': '3', 'retry-after-ms': '2500' });
  });

  it('should give a 503 without a known wait a Retry-After of one second', () => {
    expect(map(new UpstreamUnavailableError('upstream_error')).headers['retry-after']).toBe('1');
  });

  it('should not send Retry-After on errors that waiting does not fix', () => {
    expect(map(new UpstreamTimeoutError('deadline')).headers).toEqual({});
    expect(map(new UpstreamAuthFailedError()).headers).toEqual({});
  });

  it('should keep the fields of a gateway HTTP exception', () => {
    const response = map(GatewayHttpException.invalidApiKey('no key'));

    expect(response).toEqual({
      status: 401,
      body: { error: { message: 'no key', type: 'invalid_request_error', code: 'invalid_api_key', param: null } },
      headers: {},
    });
  });

  it('should map Nest HTTP exceptions by status', () => {
    expect(map(new NotFoundException('Cannot GET /x')).status).toBe(404);
    expect(map(new BadRequestException('nope')).body.error.type).toBe('invalid_request_error');
  });

  it('should hide an unexpected error behind a 500 that names the request id', () => {
    const response = map(new TypeError('secret internals: sk-live-123'));

    expect(response.status).toBe(500);
    expect(response.body.error.message).toContain('req-1');
    expect(response.body.error.message).not.toContain('sk-live');
  });
});
