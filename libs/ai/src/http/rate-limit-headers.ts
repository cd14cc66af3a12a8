import type { RateLimitState, TenantRateLimitStates } from '../limits/rate-limit-state';

/** The tenant's own limits in OpenAI's `x-ratelimit-*` headers, so that OpenAI clients pace themselves. */
export function rateLimitHeaders(states: TenantRateLimitStates | undefined): Record<string, string> {
  return { ...headersFor('requests', states?.requests), ...headersFor('tokens', states?.tokens) };
}

function headersFor(kind: 'requests' | 'tokens', state: RateLimitState | undefined): Record<string, string> {
  if (!state) return {};
  return {
    [`x-ratelimit-limit-${kind}`]: String(state.limit),
    [`x-ratelimit-remaining-${kind}`]: String(state.remaining),
    [`x-ratelimit-reset-${kind}`]: goDuration(state.resetMs),
  };
}

/** OpenAI's reset format: `12ms`, `1s`, `6m0s`, `1m30.5s`. */
export function goDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1000) return `${rounded}ms`;
  const minutes = Math.floor(rounded / 60_000);
  const seconds = Number(((rounded % 60_000) / 1000).toFixed(3));
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}
