import { Inject, Injectable } from '@nestjs/common';
import { RetryBudgetOptions } from '../ai-module-options';
import { Clock, InjectClock } from '../common/clock';
import { RETRY_BUDGET_OPTIONS } from '../ai-option-slices';

interface Bucket {
  start: number;
  requests: number;
  retries: number;
}

const BUCKETS_PER_WINDOW = 10;

/**
 * A per-process retry budget (Google SRE, "Handling Overload"): over a sliding window,
 * retries may add at most `ratio` of the requests plus `minRetriesPerSecond`, so that a
 * failing upstream sees ~1.1× its normal load, never 3×.
 */
@Injectable()
export class RetryBudget {
  private readonly bucketMs: number;
  private buckets: Bucket[] = [];

  constructor(
    @Inject(RETRY_BUDGET_OPTIONS) private readonly options: RetryBudgetOptions,
    @InjectClock() private readonly clock: Clock,
  ) {
    this.bucketMs = this.options.windowMs / BUCKETS_PER_WINDOW;
  }

  /** Counts one request, before its first attempt. */
  recordRequest(): void {
    this.currentBucket().requests++;
  }

  /** Takes one retry from the budget; false when retrying now would exceed it. */
  tryAcquireRetry(): boolean {
    const { requests, retries } = this.totals();
    if (retries + 1 > this.allowedRetries(requests)) return false;
    this.currentBucket().retries++;
    return true;
  }

  /** Requests and retries in the current window, and how many retries it allows in all. */
  snapshot(): { requests: number; retries: number; allowedRetries: number } {
    const { requests, retries } = this.totals();
    return { requests, retries, allowedRetries: this.allowedRetries(requests) };
  }

  private allowedRetries(requests: number): number {
    const reserve = (this.options.minRetriesPerSecond * this.options.windowMs) / 1000;
    return reserve + this.options.ratio * requests;
  }

  private totals(): { requests: number; retries: number } {
    this.dropExpiredBuckets();
    return this.buckets.reduce(
      (sum, bucket) => ({ requests: sum.requests + bucket.requests, retries: sum.retries + bucket.retries }),
      { requests: 0, retries: 0 },
    );
  }

  private currentBucket(): Bucket {
    this.dropExpiredBuckets();
    const now = this.clock.now();
    const last = this.buckets.at(-1);
    if (last && now < last.start + this.bucketMs) return last;
    const bucket = { start: now - (now % this.bucketMs), requests: 0, retries: 0 };
    this.buckets.push(bucket);
    return bucket;
  }

  private dropExpiredBuckets(): void {
    const oldestKept = this.clock.now() - this.options.windowMs;
    this.buckets = this.buckets.filter((bucket) => bucket.start + this.bucketMs > oldestKept);
  }
}
