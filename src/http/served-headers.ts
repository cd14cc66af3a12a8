import { rateLimitHeaders, TenantRateLimitStates } from '@tollgate/ai';

/** What every tenant route says of the call that served it. */
export interface Served {
  model: string;
  upstream: string;
  upstreamRequestId?: string;
  rateLimits: TenantRateLimitStates;
}

/** The tenant's own rate limits, the model and upstream that answered, and the upstream's request id. */
export function servedHeaders(served: Served): Record<string, string> {
  return {
    ...rateLimitHeaders(served.rateLimits),
    'x-tollgate-served-model': served.model,
    'x-tollgate-upstream': served.upstream,
    ...(served.upstreamRequestId ? { 'x-upstream-request-id': served.upstreamRequestId } : {}),
  };
}
