/** Where a tenant stands against one of its rate limits, for the `x-ratelimit-*` headers. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Until the window renews. */
  resetMs: number;
}

/** The tenant's request and token rate limits, as far as they apply to it. */
export interface TenantRateLimitStates {
  requests?: RateLimitState;
  tokens?: RateLimitState;
}
