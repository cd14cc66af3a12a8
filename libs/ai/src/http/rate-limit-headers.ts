import type { RateLimitState, TenantRateLimitStates } from '../limits/rate-limit-state';

/** The header names of each kind, made once: a header object built with the same keys every time stays a fast one. */
const HEADER_NAMES = {
  requests: { limit: 'x-ratelimit-limit-requests', remaining: 'x-ratelimit-remaining-requests', reset: 'x-ratelimit-reset-requests' },
  tokens: { limit: 'x-ratelimit-limit-tokens', remaining: 'x-ratelimit-remaining-tokens', reset: 'x-ratelimit-reset-tokens' },
} as const;

/** The tenant's own limits in OpenAI's `x-ratelimit-*` headers, so that OpenAI clients pace themselves. */
export function rateLimitHeaders(states: TenantRateLimitStates | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (states?.requests) addHeaders(headers, 'requests', states.requests);
  if (states?.tokens) addHeaders(headers, 'tokens', states.tokens);
  return headers;
}

function addHeaders(headers: Record<string, string>, kind: 'requests' | 'tokens', state: RateLimitState): void {
  const names = HEADER_NAMES[kind];
  headers[names.limit] = String(state.limit);
  headers[names.remaining] = String(state.remaining);
  headers[names.reset] = goDuration(state.resetMs);
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
