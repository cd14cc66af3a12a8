import type { TenantRateLimitStates } from '../limits/rate-limit-state';

/**
 * Every failure the library reports is one of these classes. `toOpenAiError` (http/) maps
 * each `code` to an HTTP status in one exhaustive switch; a library user can branch on
 * `instanceof` or on `code`. Messages say what happened and what to do in no transport's
 * terms: the HTTP wording (Retry-After and the like) is the mapping's.
 */
export type AiErrorCode =
  | 'upstream_auth_failed'
  | 'upstream_bad_request'
  | 'context_length_exceeded'
  | 'completion_limit_too_large'
  | 'request_too_large'
  | 'upstream_permission_denied'
  | 'model_not_found'
  | 'upstream_rate_limited'
  | 'upstream_unavailable'
  | 'upstream_quota_exhausted'
  | 'upstream_timeout'
  | 'request_aborted'
  | 'tenant_not_found'
  | 'tenant_exists'
  | 'tenant_disabled'
  | 'unknown_plan'
  | 'invalid_tenant_id'
  | 'invalid_limits'
  | 'api_key_not_found'
  | 'model_not_allowed'
  | 'rate_limit_exceeded'
  | 'tenant_quota_exceeded'
  | 'job_not_found'
  | 'webhook_not_allowed'
  | 'too_many_jobs'
  | 'dependency_unavailable'
  | 'model_not_priced';

export interface AiErrorDetails {
  /** The upstream's `x-request-id`, when the upstream answered. */
  upstreamRequestId?: string;
  /** When the caller may try again; set on every rate-limit and unavailability error. */
  retryAfterMs?: number;
  /** The upstream's error param, when it named one. */
  param?: string | null;
  /** The upstream error that caused this one, for logs; never shown to tenants. */
  cause?: unknown;
}

/** How the call path treats an error: set by the class, overridable per instance. */
export interface AiErrorPolicy {
  /** A later attempt at the same model may succeed. */
  retryable: boolean;
  /** The failure says the upstream is unhealthy, so the model's breaker counts it. */
  tripsBreaker: boolean;
  /** Another model may succeed where this one failed, so configured fallbacks are tried. */
  triesFallback: boolean;
}

const NOTHING_TO_RETRY: AiErrorPolicy = { retryable: false, tripsBreaker: false, triesFallback: false };
const TRANSIENT: AiErrorPolicy = { retryable: true, tripsBreaker: true, triesFallback: true };

export abstract class AiError extends Error {
  abstract readonly code: AiErrorCode;
  readonly upstreamRequestId?: string;
  /** Set by the call path when it gives up, so that every transient failure says when to come back. */
  retryAfterMs?: number;
  /** The tenant's rate limits when the error happened, for the `x-ratelimit-*` headers. */
  rateLimits?: TenantRateLimitStates;
  /** Upstream calls the failed call made, retries and fallbacks included; set by the call path. */
  upstreamAttempts?: number;
  readonly param?: string | null;
  readonly policy: AiErrorPolicy;

  protected constructor(message: string, details: AiErrorDetails, policy: AiErrorPolicy) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.upstreamRequestId = details.upstreamRequestId;
    this.retryAfterMs = details.retryAfterMs;
    this.param = details.param;
    this.policy = policy;
  }
}

export function isAiError(error: unknown): error is AnyAiError {
  return error instanceof AiError;
}

/** The upstream rejected Tollgate's own key (401), even after a refresh. */
export class UpstreamAuthFailedError extends AiError {
  readonly code = 'upstream_auth_failed';
  constructor(details: AiErrorDetails = {}) {
    super(
      'The upstream rejected the API key it was called with. An operator must fix or rotate the upstream secret.',
      details,
      NOTHING_TO_RETRY,
    );
  }
}

/** The upstream found the request invalid (400 and other 4xx that no retry can fix). */
export class UpstreamBadRequestError extends AiError {
  readonly code = 'upstream_bad_request';
  /** The upstream's own error code, passed on to the caller. */
  readonly upstreamCode?: string;
  constructor(message: string, details: AiErrorDetails & { upstreamCode?: string } = {}) {
    super(message, details, NOTHING_TO_RETRY);
    this.upstreamCode = details.upstreamCode;
  }
}

/** Prompt plus completion allowance exceed the model's context window. */
export class ContextLengthExceededError extends AiError {
  readonly code = 'context_length_exceeded';
  constructor(message: string, details: AiErrorDetails = {}) {
    super(message, { param: 'messages', ...details }, NOTHING_TO_RETRY);
  }
}

/** `max_tokens` or `max_completion_tokens` asks for more than the model can write; OpenAI's own wording. */
export class CompletionLimitTooLargeError extends AiError {
  readonly code = 'completion_limit_too_large';
  constructor(param: 'max_tokens' | 'max_completion_tokens' | 'max_output_tokens', asked: number, largest: number) {
    super(
      `${param} is too large: ${asked}. This model supports at most ${largest} completion tokens, whereas you provided ${asked}.`,
      { param },
      NOTHING_TO_RETRY,
    );
  }
}

/** The upstream answered 429 "Request too large": more tokens than its per-minute limit, so no wait helps. */
export class RequestTooLargeError extends AiError {
  readonly code = 'request_too_large';
  constructor(message: string, details: AiErrorDetails = {}) {
    super(message, { param: 'messages', ...details }, NOTHING_TO_RETRY);
  }
}

/** The upstream does not let this account use the model (403). */
export class UpstreamPermissionDeniedError extends AiError {
  readonly code = 'upstream_permission_denied';
  constructor(model: string, details: AiErrorDetails = {}) {
    super(`The upstream does not permit model '${model}' for this deployment.`, details, {
      ...NOTHING_TO_RETRY,
      triesFallback: true,
    });
  }
}

/** The upstream does not know the model (404). */
export class UpstreamModelNotFoundError extends AiError {
  readonly code = 'model_not_found';
  constructor(model: string, details: AiErrorDetails = {}) {
    super(`The model '${model}' does not exist upstream or this deployment has no access to it.`, details, {
      ...NOTHING_TO_RETRY,
      triesFallback: true,
    });
  }
}

/**
 * The upstream's own rate limit (429 rate_limit_exceeded) held after the retries Tollgate could afford. It is the
 * key's limit, not a sign of the upstream's health: the key rests (UpstreamPool), the breaker does not count it.
 */
export class UpstreamRateLimitedError extends AiError {
  readonly code = 'upstream_rate_limited';
  constructor(details: AiErrorDetails = {}, policy: Partial<AiErrorPolicy> = {}) {
    super('The upstream is rate limiting this deployment.', details, { ...TRANSIENT, tripsBreaker: false, ...policy });
  }
}

export type UnavailableReason =
  | 'upstream_error'
  | 'invalid_response'
  | 'circuit_open'
  | 'retry_budget_exhausted'
  | 'connection_failed'
  | 'stream_interrupted';

const UNAVAILABLE_MESSAGES: Record<UnavailableReason, string> = {
  upstream_error: 'The upstream failed to answer.',
  invalid_response: 'The upstream answered with a response that could not be read.',
  circuit_open: 'The upstream is failing, so calls to this model are paused.',
  retry_budget_exhausted: 'The upstream is failing, and more retries would only add to its load.',
  connection_failed: 'The upstream could not be reached.',
  stream_interrupted: 'The upstream stream ended unexpectedly.',
};

/** The upstream is failing (5xx, 408, 409, connection errors) or a breaker is open. */
export class UpstreamUnavailableError extends AiError {
  readonly code = 'upstream_unavailable';
  readonly reason: UnavailableReason;
  constructor(reason: UnavailableReason, details: AiErrorDetails = {}, policy: Partial<AiErrorPolicy> = {}) {
    super(UNAVAILABLE_MESSAGES[reason], details, {
      ...TRANSIENT,
      ...policy,
    });
    this.reason = reason;
  }
}

/** The upstream account is out of credit (429 insufficient_quota): no retry can help. */
export class UpstreamQuotaExhaustedError extends AiError {
  readonly code = 'upstream_quota_exhausted';
  constructor(details: AiErrorDetails = {}) {
    super(
      'The upstream account has run out of credit. An operator must add credit or raise the upstream spending limit.',
      details,
      NOTHING_TO_RETRY,
    );
  }
}

export type TimeoutKind = 'connect' | 'first_byte' | 'stream_idle' | 'deadline';

const TIMEOUT_MESSAGES: Record<TimeoutKind, string> = {
  connect: 'No connection to the upstream could be made in time.',
  first_byte: 'The upstream did not start answering in time.',
  stream_idle: 'The upstream stream went silent for too long.',
  deadline: 'The request ran out of time, retries included.',
};

/** A time limit expired: connect, first byte, stream idle gap, or the whole call's deadline. */
export class UpstreamTimeoutError extends AiError {
  readonly code = 'upstream_timeout';
  readonly timeout: TimeoutKind;
  constructor(timeout: TimeoutKind, details: AiErrorDetails = {}, overrides: Partial<AiErrorPolicy> = {}) {
    // Past the deadline nothing else may be tried; it still tells the breaker the upstream was slow.
    const policy = timeout === 'deadline' ? { ...TRANSIENT, retryable: false, triesFallback: false } : TRANSIENT;
    super(TIMEOUT_MESSAGES[timeout], details, { ...policy, ...overrides });
    this.timeout = timeout;
  }
}

/** The caller went away (its AbortSignal fired); the upstream call was cancelled. */
export class RequestAbortedError extends AiError {
  readonly code = 'request_aborted';
  constructor(details: AiErrorDetails = {}) {
    super('The caller cancelled the request.', details, NOTHING_TO_RETRY);
  }
}

/** No tenant has this id. */
export class TenantNotFoundError extends AiError {
  readonly code = 'tenant_not_found';
  constructor(tenantId: string) {
    super(`No tenant has the id '${tenantId}'.`, {}, NOTHING_TO_RETRY);
  }
}

/** A tenant with this id exists already. */
export class TenantExistsError extends AiError {
  readonly code = 'tenant_exists';
  constructor(tenantId: string) {
    super(`A tenant with the id '${tenantId}' exists already.`, { param: 'id' }, NOTHING_TO_RETRY);
  }
}

/** The tenant has been disabled by an operator. */
export class TenantDisabledError extends AiError {
  readonly code = 'tenant_disabled';
  constructor(tenantId: string) {
    super(`The tenant '${tenantId}' is disabled. Ask an operator to enable it.`, {}, NOTHING_TO_RETRY);
  }
}

/** No plan has this name. */
export class UnknownPlanError extends AiError {
  readonly code = 'unknown_plan';
  constructor(plan: string, known: string[]) {
    super(`There is no plan '${plan}'. Known plans: ${known.join(', ')}.`, { param: 'plan' }, NOTHING_TO_RETRY);
  }
}

/** A tenant id that is not a short, plain token. */
export class InvalidTenantIdError extends AiError {
  readonly code = 'invalid_tenant_id';
  constructor() {
    super("A tenant id is 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or digit.", { param: 'id' }, NOTHING_TO_RETRY);
  }
}

/** A limit is not a valid value (a negative count, an unknown model). */
export class InvalidLimitsError extends AiError {
  readonly code = 'invalid_limits';
  constructor(message: string, param: string) {
    super(message, { param }, NOTHING_TO_RETRY);
  }
}

/** The tenant has no key with this id. */
export class ApiKeyNotFoundError extends AiError {
  readonly code = 'api_key_not_found';
  constructor(keyId: string) {
    super(`This tenant has no key with the id '${keyId}'.`, { param: 'keyId' }, NOTHING_TO_RETRY);
  }
}

/** The model is not in the model registry, and the tenant's plan does not pass unknown models through. */
export class UnknownModelError extends AiError {
  readonly code = 'model_not_found';
  constructor(model: string, known: string[]) {
    super(`The model '${model}' does not exist. Known models: ${known.join(', ')}.`, { param: 'model' }, NOTHING_TO_RETRY);
  }
}

/** The model is none of those the upstream lists for this tenant (`GET /models/{id}`): OpenAI's one answer for both cases. */
export class ModelNotListedError extends AiError {
  readonly code = 'model_not_found';
  constructor(model: string) {
    super(`The model '${model}' does not exist or you do not have access to it.`, { param: 'model' }, NOTHING_TO_RETRY);
  }
}

/** The tenant's plan does not include the model. */
export class ModelNotAllowedError extends AiError {
  readonly code = 'model_not_allowed';
  constructor(model: string, allowed: string[]) {
    super(`Your plan does not include the model '${model}'. Allowed models: ${allowed.join(', ') || 'none'}.`, { param: 'model' }, NOTHING_TO_RETRY);
  }
}

export type RateLimitName = 'requests_per_minute' | 'tokens_per_minute' | 'concurrent_requests';

const RATE_LIMIT_MESSAGES: Record<RateLimitName, string> = {
  requests_per_minute: 'You have sent more requests per minute than your plan allows.',
  tokens_per_minute: 'You have used more tokens per minute than your plan allows.',
  concurrent_requests: 'You have more requests in flight than your plan allows.',
};

/** One of the tenant's own rate limits is reached. */
export class TenantRateLimitedError extends AiError {
  readonly code = 'rate_limit_exceeded';
  readonly limit: RateLimitName;
  constructor(limit: RateLimitName, retryAfterMs: number) {
    super(RATE_LIMIT_MESSAGES[limit], { retryAfterMs }, NOTHING_TO_RETRY);
    this.limit = limit;
  }
}

export type QuotaName = 'requests_per_day' | 'tokens_per_month' | 'cost_per_month';

const QUOTA_MESSAGES: Record<QuotaName, string> = {
  requests_per_day: 'You have used all the requests your plan allows today (UTC).',
  tokens_per_month: 'You have used all the tokens your plan allows this month (UTC).',
  cost_per_month: 'You have spent all the budget your plan allows this month (UTC).',
};

/** One of the tenant's quotas would be overspent by this request. */
export class TenantQuotaExceededError extends AiError {
  readonly code = 'tenant_quota_exceeded';
  readonly quota: QuotaName;
  constructor(quota: QuotaName, retryAfterMs: number) {
    super(`${QUOTA_MESSAGES[quota]} Wait for it to renew, or ask for a larger plan.`, { retryAfterMs }, NOTHING_TO_RETRY);
    this.quota = quota;
  }
}

/** The tenant has no job with this id (or it has expired): another tenant's job is reported the same way. */
export class JobNotFoundError extends AiError {
  readonly code = 'job_not_found';
  constructor(jobId: string) {
    super(`You have no job with the id '${jobId}'. Finished jobs are kept for a limited time only.`, { param: 'id' }, NOTHING_TO_RETRY);
  }
}

/** A job's webhook URL is not one the operator allows webhooks to be sent to. */
export class WebhookNotAllowedError extends AiError {
  readonly code = 'webhook_not_allowed';
  constructor(reason: string) {
    super(`${reason} Ask an operator to allow your webhook's host, or leave webhook_url out and poll the job.`, { param: 'webhook_url' }, NOTHING_TO_RETRY);
  }
}

/** The tenant has as many jobs queued or running as a tenant may: its submits would grow the queue without bound. */
export class TooManyJobsError extends AiError {
  readonly code = 'too_many_jobs';
  constructor(limit: number, retryAfterMs: number) {
    super(
      `You have ${limit} jobs queued or running, the most one tenant may have. Submit again once some have finished, or cancel some.`,
      { retryAfterMs },
      NOTHING_TO_RETRY,
    );
  }
}

/** Every concrete library error: a `switch` on `code` narrows it to its class. */
export type AnyAiError =
  | UpstreamAuthFailedError
  | UpstreamBadRequestError
  | ContextLengthExceededError
  | CompletionLimitTooLargeError
  | RequestTooLargeError
  | UpstreamPermissionDeniedError
  | UpstreamModelNotFoundError
  | UnknownModelError
  | ModelNotListedError
  | UpstreamRateLimitedError
  | UpstreamUnavailableError
  | UpstreamQuotaExhaustedError
  | UpstreamTimeoutError
  | RequestAbortedError
  | TenantNotFoundError
  | TenantExistsError
  | TenantDisabledError
  | UnknownPlanError
  | InvalidTenantIdError
  | InvalidLimitsError
  | ApiKeyNotFoundError
  | ModelNotAllowedError
  | TenantRateLimitedError
  | TenantQuotaExceededError
  | JobNotFoundError
  | WebhookNotAllowedError
  | TooManyJobsError
  | DependencyUnavailableError
  | ModelNotPricedError;

/** A service the library itself runs on, as opposed to the upstream it calls. */
export type Dependency = 'database' | 'redis';

/** The database (or Redis) cannot be reached right now, so the call was not served: nothing was done with it. */
export class DependencyUnavailableError extends AiError {
  readonly code = 'dependency_unavailable';
  readonly dependency: Dependency;
  constructor(dependency: Dependency, retryAfterMs: number, cause?: unknown) {
    super(`The ${dependency} is unreachable right now, so nothing was done with this request. Try again shortly.`, { retryAfterMs, cause }, NOTHING_TO_RETRY);
    this.dependency = dependency;
  }
}

/**
 * A plan limits spend (`costPerMonthUsd`) but may call a model the model table gives no price, whose cost would be
 * counted as 0: refused rather than letting the limit do nothing. `model` undefined: any model the table does not list.
 */
export class ModelNotPricedError extends AiError {
  readonly code = 'model_not_priced';
  readonly model?: string;
  /** Whose cost limit cannot be kept: `plan 'free'`, or `tenant 'acme'` for a tenant's own limit. */
  readonly limitedBy: string;
  constructor(limitedBy: string, model?: string) {
    const what = model === undefined ? 'models the model table does not list (allowUnknownModels)' : `the model '${model}', which the model table does not list`;
    super(
      `The ${limitedBy} limits cost per month but may call ${what}, and the table has no price for them. ` +
        'List the models with their prices, or set costPerMonthUsd to null.',
      { param: 'model' },
      NOTHING_TO_RETRY,
    );
    this.model = model;
    this.limitedBy = limitedBy;
  }
}
