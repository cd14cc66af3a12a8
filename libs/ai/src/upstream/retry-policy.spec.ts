import { RetryOptions } from '../ai-module-options';
import { UpstreamBadRequestError, UpstreamRateLimitedError, UpstreamUnavailableError } from '../errors/ai-errors';
import { backoffDelayMs, decideRetry, parseRetryAfterMs } from './retry-policy';

const options: RetryOptions = { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 };
const ALMOST_ONE = 0.999_999;
const NOW = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
const plenty = 120_000;

describe('backoffDelayMs', () => {
  it.each([1, 2, 3, 4, 5, 6])('should wait nothing on retry %i when the random draw is 0', (retry) => {
    expect(backoffDelayMs(retry, options, () => 0)).toBe(0);
  });

  it.each([
    [1, 499],
    [2, 999],
    [3, 1_999],
    [4, 3_999],
    [5, 7_999],
    [6, 7_999],
    [20, 7_999],
  ])('should stay below min(cap, base·2^(n-1)) on retry %i (%i ms at most)', (retry, longest) => {
    expect(backoffDelayMs(retry, options, () => ALMOST_ONE)).toBe(longest);
  });

  it('should scale the wait with the random draw (full jitter)', () => {
    expect(backoffDelayMs(3, options, () => 0.5)).toBe(1_000);
  });
});

describe('parseRetryAfterMs', () => {
  it('should prefer retry-after-ms to retry-after', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after-ms': '1500', 'retry-after': '30' }), NOW)).toBe(1_500);
  });

  it('should keep a fractional retry-after-ms', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after-ms': '1500.5' }), NOW)).toBe(1_500.5);
  });

  it('should read retry-after as seconds', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after': '2' }), NOW)).toBe(2_000);
  });

  it('should fall back to retry-after when retry-after-ms is not a number', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after-ms': 'soon', 'retry-after': '3' }), NOW)).toBe(3_000);
  });

  it('should read retry-after as an HTTP date relative to now', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:05 GMT' }), NOW)).toBe(5_000);
  });

  it('should read an HTTP date in the past as no wait', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'Wed, 21 Oct 2015 07:27:00 GMT' }), NOW)).toBe(0);
  });

  it('should ignore a retry-after that is neither seconds nor a date', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'soon' }), NOW)).toBeUndefined();
  });

  // Date.parse is lenient ('-1' parses as the year 2001): only an HTTP date may count as a date.
  it('should ignore a negative retry-after', () => {
    expect(parseRetryAfterMs(new Headers({ 'retry-after': '-1' }), NOW)).toBeUndefined();
  });

  it('should return undefined without the headers', () => {
    expect(parseRetryAfterMs(new Headers({ 'content-type': 'application/json' }), NOW)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, NOW)).toBeUndefined();
  });
});

describe('decideRetry', () => {
  const transient = () => new UpstreamUnavailableError('upstream_error');
  const rateLimited = (retryAfterMs: number) => new UpstreamRateLimitedError({ retryAfterMs });

  it('should not retry an error that is not retryable', () => {
    expect(decideRetry(new UpstreamBadRequestError('bad'), 1, plenty, options, () => 0.5)).toEqual({ retry: false });
  });

  it('should retry a transient error after a full-jitter backoff', () => {
    expect(decideRetry(transient(), 2, plenty, options, () => 0.5)).toEqual({ retry: true, delayMs: 500 });
  });

  it('should wait the server delay rather than the backoff', () => {
    expect(decideRetry(rateLimited(2_500), 1, plenty, options, () => 0.5)).toEqual({ retry: true, delayMs: 2_500 });
  });

  it('should stop at the last attempt and say when to come back', () => {
    expect(decideRetry(transient(), 3, plenty, options, () => 0.5)).toEqual({ retry: false, retryAfterMs: 2_000 });
  });

  it('should pass the server delay on when it stops at the last attempt', () => {
    expect(decideRetry(rateLimited(2_500), 3, plenty, options, () => 0.5)).toEqual({ retry: false, retryAfterMs: 2_500 });
  });

  it('should never suggest coming back in less than a second', () => {
    expect(decideRetry(transient(), 3, plenty, { ...options, baseDelayMs: 100 }, () => 0.5)).toEqual({ retry: false, retryAfterMs: 1_000 });
  });

  it('should fail now with the server delay when it exceeds maxRetryAfterMs', () => {
    expect(decideRetry(rateLimited(90_000), 1, plenty, options, () => 0.5)).toEqual({ retry: false, retryAfterMs: 90_000 });
  });

  it('should fail now when the server delay does not fit in the remaining deadline', () => {
    expect(decideRetry(rateLimited(5_000), 1, 5_000, options, () => 0.5)).toEqual({ retry: false, retryAfterMs: 5_000 });
  });

  it('should fail now when the backoff does not fit in the remaining deadline', () => {
    expect(decideRetry(transient(), 1, 250, options, () => 0.5)).toEqual({ retry: false, retryAfterMs: 1_000 });
    expect(decideRetry(transient(), 1, 251, options, () => 0.5)).toEqual({ retry: true, delayMs: 250 });
  });
});
