import type { RateLimitState, TenantRateLimitStates } from '../limits/rate-limit-state';

/** The tenant's own limits in OpenAI's `x-ratelimit-*` headers, so that OpenAI clients pace themselves. */
export function rateLimitHeaders(states: TenantRateLimitStates | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (states?.requests) addHeaders(headers, 'requests', states.requests);
  if (states?.tokens) addHeaders(headers, 'tokens', states.tokens);
  return headers;
}

function addHeaders(headers: Record<string, string>, kind: 'requests' | 'tokens', state: RateLimitState): void {
  headers[`x-ratelimit-limit-${kind}`] = String(state.limit);
  headers[`x-ratelimit-remaining-${kind}`] = String(state.remaining);
  headers[`x-ratelimit-reset-${kind}`] = goDuration(state.resetMs);
}

/** OpenAI's reset format: `12ms`, `1s`, `6m0s`, `1m30.5s`. */
export function goDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1000) return `${rounded}ms`;
  const minutes = Math.floor(rounded / 60_000);
  // Whole milliseconds: the seconds have at most three decimals.
  const seconds = (rounded % 60_000) / 1000;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}
