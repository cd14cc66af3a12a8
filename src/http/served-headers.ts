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
  const headers = rateLimitHeaders(served.rateLimits);
  headers['x-tollgate-served-model'] = served.model;
  headers['x-tollgate-upstream'] = served.upstream;
  if (served.upstreamRequestId) headers['x-upstream-request-id'] = served.upstreamRequestId;
  return headers;
}
