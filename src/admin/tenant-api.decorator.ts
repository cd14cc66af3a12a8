import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import { CONTEXT_POLICIES } from '@tollgate/ai';
import type { HeadersObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { CONTEXT_POLICY_HEADER } from '../http/request-context';
import { OpenAiErrorDto } from './openai-error.dto';

/** What each status means on the tenant API (`/v1`), with the `error.code` values it comes with. */
const TENANT_API_ERRORS = {
  400: 'Invalid request: `error.param` names the field (code null, `invalid_value`, `context_length_exceeded`, `model_not_priced`, or the upstream’s own, e.g. `content_filter`).',
  401: 'No tenant key, a wrong or revoked one (`invalid_api_key`), or a disabled tenant (`tenant_disabled`).',
  403: 'The tenant’s plan does not allow the model (`model_not_allowed`), or the upstream refused it (`upstream_permission_denied`).',
  404: 'The model is unknown or not listed for this tenant (`model_not_found`).',
  413: 'The body is larger than the gateway’s MAX_BODY_BYTES, or the upstream found the request too large (`request_too_large`).',
  415: 'The body is not `application/json`.',
  429: 'A limit of the tenant: requests or tokens per minute, or requests in flight (`rate_limit_exceeded`), or its quota (`tenant_quota_exceeded`).',
  500: 'An unexpected failure (`internal_error`); the message names the request id.',
  502: 'The upstream refused the gateway’s own key (`upstream_auth_failed`): your key is fine.',
  503:
    'The upstream is unavailable, resting on its rate limits or out of credit, or its breaker is open (`upstream_unavailable`, `upstream_rate_limited`, ' +
    '`upstream_quota_exhausted`); the database is unreachable (`dependency_unavailable`); or the gateway is shutting down (`server_shutting_down`).',
  504: 'The upstream did not answer in time (`upstream_timeout`).',
} as const;

export type TenantApiErrorStatus = keyof typeof TENANT_API_ERRORS;

/** The 503 of a route that calls no upstream. */
export const NO_UPSTREAM_503 = { 503: 'The database is unreachable (`dependency_unavailable`), or the gateway is shutting down (`server_shutting_down`).' } as const;

/** Every status a call that reaches the upstream can answer with. */
export const UPSTREAM_CALL_ERRORS: readonly TenantApiErrorStatus[] = [400, 401, 403, 404, 413, 415, 429, 500, 502, 503, 504];

const integer = { type: 'integer' } as const;
const text = { type: 'string' } as const;

/** Every 429 and 503 says when to retry. */
const RETRY_HEADERS: HeadersObject = {
  'retry-after': { description: 'Seconds to wait before retrying.', schema: integer },
  'retry-after-ms': { description: 'The same wait, in milliseconds.', schema: integer },
};

/** What every answer of a call the upstream served says of it (served-headers.ts). */
export const SERVED_HEADERS: HeadersObject = {
  'x-request-id': { description: 'The request’s id: the caller’s own when it sent a sane one.', schema: text },
  'x-tollgate-served-model': { description: 'The model that answered: a fallback’s when one did.', schema: text },
  'x-tollgate-upstream': { description: 'The upstream that answered (upstreams.yaml; `openai` without it).', schema: text },
  'x-upstream-request-id': { description: 'The upstream’s own request id, when it sent one.', schema: text },
  ...rateLimitHeaders('requests'),
  ...rateLimitHeaders('tokens'),
};

/** The tenant's own limits, as OpenAI's headers say them, when its plan sets the limit. */
function rateLimitHeaders(kind: 'requests' | 'tokens'): HeadersObject {
  return {
    [`x-ratelimit-limit-${kind}`]: { description: `The tenant’s ${kind} per minute.`, schema: integer },
    [`x-ratelimit-remaining-${kind}`]: { description: `Its ${kind} left in this minute.`, schema: integer },
    [`x-ratelimit-reset-${kind}`]: { description: 'When they are back in full, e.g. `1s`, `6m0s`.', schema: text },
  };
}

/**
 * The OpenAI-shaped errors a tenant route answers with: each status in TENANT_API_ERRORS' words,
 * or in the route's own (`worded`).
 */
export function ApiTenantErrors(
  statuses: readonly TenantApiErrorStatus[],
  worded: Partial<Record<TenantApiErrorStatus, string>> = {},
): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: worded[status] ?? TENANT_API_ERRORS[status],
        type: OpenAiErrorDto,
        ...((status === 429 || status === 503) && { headers: RETRY_HEADERS }),
      }),
    ),
  );
}

/** The request headers a call reads besides its key (request-context.ts); `contextPolicy` where a prompt may not fit. */
export function ApiCallHeaders({ contextPolicy }: { contextPolicy: boolean }): MethodDecorator {
  const timeout = ApiHeader({
    name: 'x-stainless-timeout',
    required: false,
    description: 'The caller’s own timeout in seconds, as OpenAI’s SDKs send it: the gateway gives up no later (at least 1 s).',
    schema: { type: 'number' },
  });
  if (!contextPolicy) return timeout;
  const policy = ApiHeader({
    name: CONTEXT_POLICY_HEADER,
    required: false,
    description: 'What to do with a prompt larger than the model’s context, in place of the plan’s policy.',
    enum: [...CONTEXT_POLICIES],
  });
  return applyDecorators(timeout, policy);
}
