import { Inject, Injectable } from '@nestjs/common';
import { RetryBudgetOptions } from '../ai-module-options';
import { Clock, InjectClock } from '../common/clock';
import { RETRY_BUDGET_OPTIONS } from '../ai-option-slices';

interface Counts {
  requests: number;
  retries: number;
}

interface Bucket {
  start: number;
  byTenant: Map<string, Counts>;
}

const BUCKETS_PER_WINDOW = 10;

/** Whose calls are counted when the caller names no tenant (the model list, a library call without one). */
export const UNNAMED_TENANT = '';

/**
 * A per-process retry budget (Google SRE, "Handling Overload"): over a sliding window,
 * retries may add at most `ratio` of the requests plus `minRetriesPerSecond`, so that a
 * failing upstream sees ~1.1× its normal load, never 3×.
 *
 * Each tenant has its fair share of it: the retries its own requests earn (`ratio` of them) plus an equal
 * part of the reserve among the tenants seen in the window, and at least one retry, so that a quiet tenant's
 * transient failure is retried among many tenants too. The whole budget stays the cap over all of them, and
 * one tenant's failing calls cannot spend the retries of the others.
 */
@Injectable()
export class RetryBudget {
  private readonly bucketMs: number;
  private buckets: Bucket[] = [];
  /** The window's counts by tenant, kept as buckets come and go rather than summed per call. */
  private readonly window = new Map<string, Counts>();
  private readonly total: Counts = { requests: 0, retries: 0 };

  constructor(
    @Inject(RETRY_BUDGET_OPTIONS) private readonly options: RetryBudgetOptions,
    @InjectClock() private readonly clock: Clock,
  ) {
    this.bucketMs = this.options.windowMs / BUCKETS_PER_WINDOW;
  }

  /** Counts one request, before its first attempt. */
  recordRequest(tenantId: string = UNNAMED_TENANT): void {
    this.add(tenantId, { requests: 1, retries: 0 });
  }

  /** Takes one retry from the tenant's share of the budget; false when retrying now would exceed it or the whole budget. */
  tryAcquireRetry(tenantId: string = UNNAMED_TENANT): boolean {
    this.dropExpiredBuckets();
    const own = this.window.get(tenantId) ?? { requests: 0, retries: 0 };
    const tenants = this.window.size + (this.window.has(tenantId) ? 0 : 1);
    if (this.total.retries + 1 > this.allowedRetries(this.total.requests)) return false;
    if (own.retries + 1 > Math.max(1, this.allowedRetries(own.requests, tenants))) return false;
    this.add(tenantId, { requests: 0, retries: 1 });
    return true;
  }

  /** Requests and retries in the current window, and how many retries it allows in all. */
  snapshot(): { requests: number; retries: number; allowedRetries: number } {
    this.dropExpiredBuckets();
    const { requests, retries } = this.total;
    return { requests, retries, allowedRetries: this.allowedRetries(requests) };
  }

  /** The retries `requests` earn, with the reserve shared among `tenants`. */
  private allowedRetries(requests: number, tenants = 1): number {
    const reserve = (this.options.minRetriesPerSecond * this.options.windowMs) / 1000;
    return reserve / tenants + this.options.ratio * requests;
  }

  private add(tenantId: string, counts: Counts): void {
    this.dropExpiredBuckets();
    addTo(countsOf(this.currentBucket().byTenant, tenantId), counts, 1);
    addTo(countsOf(this.window, tenantId), counts, 1);
    addTo(this.total, counts, 1);
  }

  private currentBucket(): Bucket {
    const now = this.clock.now();
    const last = this.buckets.at(-1);
    if (last && now < last.start + this.bucketMs) return last;
    const bucket = { start: now - (now % this.bucketMs), byTenant: new Map<string, Counts>() };
    this.buckets.push(bucket);
    return bucket;
  }

  private dropExpiredBuckets(): void {
    const oldestKept = this.clock.now() - this.options.windowMs;
    while (this.buckets.length > 0 && this.buckets[0].start + this.bucketMs <= oldestKept) {
      for (const [tenantId, counts] of this.buckets.shift()!.byTenant) {
        const left = countsOf(this.window, tenantId);
        addTo(left, counts, -1);
        if (left.requests === 0 && left.retries === 0) this.window.delete(tenantId);
        addTo(this.total, counts, -1);
      }
    }
  }
}

function countsOf(byTenant: Map<string, Counts>, tenantId: string): Counts {
  let counts = byTenant.get(tenantId);
  if (!counts) byTenant.set(tenantId, (counts = { requests: 0, retries: 0 }));
  return counts;
}

function addTo(sum: Counts, counts: Counts, sign: 1 | -1): void {
  sum.requests += sign * counts.requests;
  sum.retries += sign * counts.retries;
}
