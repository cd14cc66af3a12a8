import { BadRequestException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import {
  AiErrorCode,
  AnyAiError,
  ApiKeyNotFoundError,
  CompletionLimitTooLargeError,
  ContextLengthExceededError,
  DependencyUnavailableError,
  InvalidLimitsError,
  InvalidTenantIdError,
  JobNotFoundError,
  ModelNotAllowedError,
  ModelNotPricedError,
  RequestAbortedError,
  RequestTooLargeError,
  TenantDisabledError,
  TenantExistsError,
  TenantNotFoundError,
  TenantQuotaExceededError,
  TenantRateLimitedError,
  TooManyJobsError,
  UnknownModelError,
  UnknownPlanError,
  UpstreamAuthFailedError,
  UpstreamBadRequestError,
  UpstreamModelNotFoundError,
  UpstreamPermissionDeniedError,
  UpstreamQuotaExhaustedError,
  UpstreamRateLimitedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  WebhookNotAllowedError,
} from '../errors/ai-errors';
import { OpenAiErrorFields, OpenAiHttpException } from './openai-http.exception';
import { toOpenAiError } from './openai-error';

interface Expected {
  error: AnyAiError;
  status: number;
  type: string;
  code: string | null;
  param: string | null;
  /** `retry-after`, `retry-after-ms`; absent: no Retry-After at all. */
  retryAfter?: [string, string];
}

const NONE = {};

/** Every code the library can raise: a `Record` over `AiErrorCode`, so a new code fails the type check until it has a row here. */
const MAPPING: Record<AiErrorCode, Expected[]> = {
  upstream_auth_failed: [{ error: new UpstreamAuthFailedError(), status: 502, type: 'server_error', code: 'upstream_auth_failed', param: null }],
  upstream_bad_request: [
    {
      error: new UpstreamBadRequestError("Invalid value for 'temperature'", { upstreamCode: 'invalid_value', param: 'temperature' }),
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_value',
      param: 'temperature',
    },
    { error: new UpstreamBadRequestError('bad payload'), status: 400, type: 'invalid_request_error', code: null, param: null },
  ],
  context_length_exceeded: [{ error: new ContextLengthExceededError('too long'), status: 400, type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' }],
  completion_limit_too_large: [
    { error: new CompletionLimitTooLargeError('max_tokens', 9000, 4096), status: 400, type: 'invalid_request_error', code: 'invalid_value', param: 'max_tokens' },
  ],
  request_too_large: [{ error: new RequestTooLargeError('too large'), status: 413, type: 'invalid_request_error', code: 'request_too_large', param: 'messages' }],
  upstream_permission_denied: [
    { error: new UpstreamPermissionDeniedError('gpt-x'), status: 403, type: 'invalid_request_error', code: 'upstream_permission_denied', param: 'model' },
  ],
  model_not_found: [
    { error: new UpstreamModelNotFoundError('gpt-x'), status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model' },
    { error: new UnknownModelError('gpt-x', ['gpt-4o']), status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model' },
  ],
  upstream_rate_limited: [
    { error: new UpstreamRateLimitedError({ retryAfterMs: 2500 }), status: 503, type: 'server_error', code: 'upstream_rate_limited', param: null, retryAfter: ['3', '2500'] },
  ],
  upstream_unavailable: [
    { error: new UpstreamUnavailableError('upstream_error', { retryAfterMs: 1000 }), status: 503, type: 'server_error', code: 'upstream_unavailable', param: null, retryAfter: ['1', '1000'] },
    { error: new UpstreamUnavailableError('circuit_open', { retryAfterMs: 12_001 }), status: 503, type: 'server_error', code: 'upstream_unavailable', param: null, retryAfter: ['13', '12001'] },
  ],
  upstream_quota_exhausted: [
    { error: new UpstreamQuotaExhaustedError({ retryAfterMs: 30_000 }), status: 503, type: 'server_error', code: 'upstream_quota_exhausted', param: null, retryAfter: ['30', '30000'] },
  ],
  upstream_timeout: [{ error: new UpstreamTimeoutError('first_byte'), status: 504, type: 'server_error', code: 'upstream_timeout', param: null }],
  request_aborted: [{ error: new RequestAbortedError(), status: 499, type: 'invalid_request_error', code: 'request_aborted', param: null }],
  tenant_not_found: [{ error: new TenantNotFoundError('acme'), status: 404, type: 'invalid_request_error', code: 'tenant_not_found', param: null }],
  tenant_exists: [{ error: new TenantExistsError('acme'), status: 409, type: 'invalid_request_error', code: 'tenant_exists', param: 'id' }],
  tenant_disabled: [{ error: new TenantDisabledError('acme'), status: 401, type: 'invalid_request_error', code: 'tenant_disabled', param: null }],
  unknown_plan: [{ error: new UnknownPlanError('gold', ['free', 'pro']), status: 400, type: 'invalid_request_error', code: 'unknown_plan', param: 'plan' }],
  invalid_tenant_id: [{ error: new InvalidTenantIdError(), status: 400, type: 'invalid_request_error', code: 'invalid_tenant_id', param: 'id' }],
  invalid_limits: [
    { error: new InvalidLimitsError('tokensPerMinute must be a whole number.', 'tokensPerMinute'), status: 400, type: 'invalid_request_error', code: 'invalid_limits', param: 'tokensPerMinute' },
  ],
  api_key_not_found: [{ error: new ApiKeyNotFoundError('key_1'), status: 404, type: 'invalid_request_error', code: 'api_key_not_found', param: 'keyId' }],
  model_not_allowed: [{ error: new ModelNotAllowedError('gpt-4o', ['gpt-4o-mini']), status: 403, type: 'invalid_request_error', code: 'model_not_allowed', param: 'model' }],
  rate_limit_exceeded: [
    { error: new TenantRateLimitedError('requests_per_minute', 1500), status: 429, type: 'requests', code: 'rate_limit_exceeded', param: null, retryAfter: ['2', '1500'] },
    { error: new TenantRateLimitedError('concurrent_requests', 10), status: 429, type: 'requests', code: 'rate_limit_exceeded', param: null, retryAfter: ['1', '1000'] },
    { error: new TenantRateLimitedError('tokens_per_minute', 59_999.2), status: 429, type: 'tokens', code: 'rate_limit_exceeded', param: null, retryAfter: ['60', '60000'] },
  ],
  tenant_quota_exceeded: [
    { error: new TenantQuotaExceededError('tokens_per_month', 86_400_000), status: 429, type: 'insufficient_quota', code: 'tenant_quota_exceeded', param: null, retryAfter: ['86400', '86400000'] },
  ],
  job_not_found: [{ error: new JobNotFoundError('job_1'), status: 404, type: 'invalid_request_error', code: 'job_not_found', param: null }],
  webhook_not_allowed: [
    { error: new WebhookNotAllowedError('No webhooks are sent.'), status: 400, type: 'invalid_request_error', code: 'webhook_not_allowed', param: 'webhook_url' },
  ],
  too_many_jobs: [{ error: new TooManyJobsError(10, 5000), status: 429, type: 'requests', code: 'too_many_jobs', param: null, retryAfter: ['5', '5000'] }],
  dependency_unavailable: [
    { error: new DependencyUnavailableError('database', 2000), status: 503, type: 'server_error', code: 'dependency_unavailable', param: null, retryAfter: ['2', '2000'] },
  ],
  model_not_priced: [
    { error: new ModelNotPricedError("plan 'default'", 'local-llm'), status: 400, type: 'invalid_request_error', code: 'model_not_priced', param: 'model' },
    { error: new ModelNotPricedError("plan 'default'"), status: 400, type: 'invalid_request_error', code: 'model_not_priced', param: 'model' },
  ],
};

const ROWS = Object.entries(MAPPING).flatMap(([code, rows]) => rows.map((row) => [`${code} (${row.error.name})`, row] as const));

describe(toOpenAiError.name, () => {
  describe('every library error', () => {
    it.each(ROWS)('should map %s to its status, type, code and param', (_name, { error, status, type, code, param }) => {
      const { status: mapped, body } = toOpenAiError(error);

      expect(mapped).toBe(status);
      expect(body).toEqual({ error: { message: expect.any(String), type, code, param } });
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    });

    it.each(ROWS)('should give %s a Retry-After, in whole seconds rounded up and in ms, exactly when waiting helps', (_name, { error, retryAfter }) => {
      const { 'x-should-retry': _shouldRetry, ...headers } = toOpenAiError(error).headers;

      expect(headers).toEqual(retryAfter ? { 'retry-after': retryAfter[0], 'retry-after-ms': retryAfter[1] } : NONE);
    });

    // OpenAI's SDKs retry 429 and 5xx twice unless told not to: not after Tollgate spent its own retries.
    it.each<[string, AnyAiError, string | undefined]>([
      ['a 503 after the retries', new UpstreamUnavailableError('upstream_error'), 'false'],
      ['a 503 of the retry budget', new UpstreamUnavailableError('retry_budget_exhausted', {}, { retryable: false }), 'false'],
      ['an upstream rate limit that outlasted the retries', new UpstreamRateLimitedError({ retryAfterMs: 2_000 }), 'false'],
      ['a 504', new UpstreamTimeoutError('deadline'), 'false'],
      ['a refused upstream key (502)', new UpstreamAuthFailedError(), 'false'],
      ['a quota that renews tomorrow', new TenantQuotaExceededError('requests_per_day', 3_600_000), 'false'],
      ["the tenant's per-minute limit, which a retry after its Retry-After may pass", new TenantRateLimitedError('requests_per_minute', 1_500), undefined],
      ['a 400', new UpstreamBadRequestError('bad'), undefined],
    ])('should say x-should-retry %s → %s', (_case, error, expected) => {
      expect(toOpenAiError(error).headers['x-should-retry']).toBe(expected);
    });

    // upstream_auth_failed (like invalid_response, not in the table) is worded for HTTP: see below.
    it.each(ROWS.filter(([, { error }]) => error.code !== 'upstream_auth_failed'))("should start %s's message with the library's own words", (_name, { error }) => {
      expect(toOpenAiError(error).body.error.message.startsWith(error.message)).toBe(true);
    });
  });

  it('should refuse, at run time as at compile time, an error code it has no mapping for', () => {
    const unmapped = new UpstreamTimeoutError('deadline');
    Object.defineProperty(unmapped, 'code', { value: 'brand_new_code' });

    expect(() => toOpenAiError(unmapped)).toThrow('No HTTP mapping for UpstreamTimeoutError');
  });

  it("should add the tenant's x-ratelimit-* headers, in OpenAI's reset format, to the error's own", () => {
    const error = new TenantRateLimitedError('requests_per_minute', 1500);
    error.rateLimits = { requests: { limit: 60, remaining: 0, resetMs: 1500 }, tokens: { limit: 10_000, remaining: 9000, resetMs: 90_500 } };

    expect(toOpenAiError(error).headers).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1.5s',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': '9000',
      'x-ratelimit-reset-tokens': '1m30.5s',
      'retry-after': '2',
      'retry-after-ms': '1500',
    });
  });

  it('should give a 503 without a known wait a Retry-After of one second', () => {
    expect(toOpenAiError(new UpstreamUnavailableError('upstream_error')).headers).toEqual({ 'retry-after': '1', 'retry-after-ms': '1000', 'x-should-retry': 'false' });
  });

  describe('HTTP wording', () => {
    it('should tell the caller where the wait is, on every answer that carries one', () => {
      expect(toOpenAiError(new UpstreamRateLimitedError()).body.error.message).toBe(
        'The upstream is rate limiting this deployment. Retry after the time in the Retry-After header.',
      );
      expect(toOpenAiError(new TenantQuotaExceededError('requests_per_day', 1000)).body.error.message).toContain('It renews at the time in the Retry-After header.');
    });

    it("should tell the caller of a 502 that its own key is fine, it is the upstream's that was refused", () => {
      expect(toOpenAiError(new UpstreamAuthFailedError()).body.error.message).toBe(
        "The upstream rejected the gateway's API key. Your own key is fine: an operator must fix or rotate the upstream secret.",
      );
    });

    it('should word an unreadable upstream answer as a relaying server does', () => {
      expect(toOpenAiError(new UpstreamUnavailableError('invalid_response')).body.error.message).toBe(
        'The upstream answered with a response the gateway could not read. Retry after the time in the Retry-After header.',
      );
    });
  });

  describe('other exceptions', () => {
    it('should answer an OpenAiHttpException exactly as given', () => {
      const fields: OpenAiErrorFields = { message: 'no key', type: 'invalid_request_error', code: 'invalid_api_key', param: null };

      expect(toOpenAiError(new OpenAiHttpException(401, fields))).toEqual({ status: 401, body: { error: fields }, headers: {} });
    });

    it("should map Nest's HTTP exceptions by status, with their message", () => {
      expect(toOpenAiError(new NotFoundException('Cannot GET /x'))).toEqual({
        status: 404,
        body: { error: { message: 'Cannot GET /x', type: 'invalid_request_error', code: null, param: null } },
        headers: {},
      });
      expect(toOpenAiError(new BadRequestException('nope')).body.error.type).toBe('invalid_request_error');
      expect(toOpenAiError(new PayloadTooLargeException()).status).toBe(413);
    });

    it('should hide an unexpected error behind a 500 internal_error that names the request id', () => {
      const response = toOpenAiError(new TypeError('secret internals: sk-live-123'), { requestId: 'req-1' });

      expect(response).toEqual({
        status: 500,
        body: { error: { message: 'The server failed unexpectedly. Quote request id req-1 to its operator.', type: 'server_error', code: 'internal_error', param: null } },
        headers: {},
      });
    });

    it('should name the server as told, and no request id when there is none', () => {
      expect(toOpenAiError('thrown string', { serverName: 'The billing API' }).body.error.message).toBe('The billing API failed unexpectedly.');
    });
  });
});
