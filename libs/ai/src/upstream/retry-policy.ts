import { AiError } from '../errors/ai-errors';
import { RetryOptions } from '../ai-module-options';

/** Full-jitter exponential backoff: a random wait in [0, min(cap, base·2^(retry-1))). */
export function backoffDelayMs(retryNumber: number, options: RetryOptions, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeilingMs(retryNumber, options));
}

export interface HeaderReader {
  get(name: string): string | null;
}

/** The server's requested wait: `retry-after-ms` first (OpenAI's precise form), then `retry-after` as seconds or an HTTP date. */
export function parseRetryAfterMs(headers: HeaderReader | undefined, nowMs: number): number | undefined {
  const precise = parseNonNegative(headers?.get('retry-after-ms'));
  if (precise !== undefined) return precise;
  const value = headers?.get('retry-after')?.trim();
  if (!value) return undefined;
  const seconds = parseNonNegative(value);
  if (seconds !== undefined) return seconds * 1000;
  // Date.parse is lenient ('-1' is a date in 2001): only an HTTP date counts as one.
  if (!HTTP_DATE.test(value)) return undefined;
  return Math.max(0, Date.parse(value) - nowMs);
}

/** IMF-fixdate, the form RFC 9110 requires of Retry-After dates: `Wed, 21 Oct 2015 07:28:00 GMT`. */
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function parseNonNegative(value: string | null | undefined): number | undefined {
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Number(value);
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; retryAfterMs?: number };

/**
 * Whether to try the same model again after `error` on attempt `attempt`, and after how long.
 * A wait the deadline cannot afford, or one longer than `maxRetryAfterMs`, is not slept:
 * the call fails now and passes the wait on as Retry-After.
 */
export function decideRetry(
  error: AiError,
  attempt: number,
  remainingMs: number,
  options: RetryOptions,
  random: () => number = Math.random,
): RetryDecision {
  if (!error.policy.retryable) return { retry: false };
  const serverDelayMs = error.retryAfterMs;
  const delayMs = serverDelayMs ?? backoffDelayMs(attempt, options, random);
  const retryAfterMs = serverDelayMs ?? Math.max(1000, backoffCeilingMs(attempt, options));
  if (attempt >= options.maxAttempts) return { retry: false, retryAfterMs };
  if (delayMs > options.maxRetryAfterMs || delayMs >= remainingMs) return { retry: false, retryAfterMs };
  return { retry: true, delayMs };
}

function backoffCeilingMs(retryNumber: number, options: RetryOptions): number {
  return Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retryNumber - 1));
}
