import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { TenancyOptions } from '../ai-module-options';
import { TENANCY_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { RateLimitName, TenantRateLimitedError } from '../errors/ai-errors';
import { TenantLimits } from '../tenancy/tenant-limits';
import { LimitRelease, LimitStore, LimitTakeOutcome, WindowCount } from './limit-store';
import { MemoryLimitStore } from './memory-limit-store';
import { RateLimitState, TenantRateLimitStates } from './rate-limit-state';
import { RedisConnection } from './redis-connection';

export type RateLimits = Pick<TenantLimits, 'requestsPerMinute' | 'tokensPerMinute' | 'concurrentRequests'>;

/** A call let through its rate limits: it holds a slot (if its tenant has a concurrency limit) until released. */
export interface TakenLimits {
  rateLimits: TenantRateLimitStates;
  /** Frees the slot and corrects the minute's tokens to what the call used (batched with other releases); runs once. */
  release(tokensUsed: number): void;
}

/** How soon a call refused for a full set of slots is told to come back. */
const SLOT_RETRY_AFTER_MS = 1000;
const REFUSALS = { requests: 'requests_per_minute', tokens: 'tokens_per_minute', slots: 'concurrent_requests' } as const satisfies Record<string, RateLimitName>;

/**
 * A tenant's requests and tokens per minute (fixed one-minute windows) and requests in flight: in process, or on
 * Redis so that every replica counts against the same limits, in one round trip per call; the releases of calls
 * that ended go to Redis together. If Redis fails, this process's own counts take over rather than letting every
 * call through. The store only counts; the tenant's limit is applied per call, so that changing a limit keeps the
 * minute's count.
 */
@Injectable()
export class TenantLimiter {
  private readonly logger = new Logger(TenantLimiter.name);
  private readonly local: MemoryLimitStore;
  private readonly shared?: LimitStore;
  private releases: LimitRelease[] = [];
  private releasing?: Promise<void>;

  constructor(
    redis: RedisConnection,
    @InjectClock() private readonly clock: Clock,
    @Inject(TENANCY_OPTIONS) private readonly tenancy: TenancyOptions,
  ) {
    this.local = new MemoryLimitStore(clock);
    this.shared = redis.limitStore();
  }

  /** Counts the call against every rate limit its tenant has and takes a slot; refuses it with TenantRateLimitedError. */
  async take(tenantId: string, limits: RateLimits, tokens: number): Promise<TakenLimits> {
    const { requestsPerMinute, tokensPerMinute, concurrentRequests } = limits;
    // A call larger than the whole token limit can still pass in a fresh minute, alone.
    const charged = tokensPerMinute === null ? 0 : Math.min(tokens, tokensPerMinute);
    const holder = randomUUID();
    const take = { tenantId, now: this.clock.now(), requestsPerMinute, tokensPerMinute, tokens: charged, concurrentRequests, holder, slotTtlMs: this.tenancy.reservationTtlMs };
    const [store, outcome] = await this.inStore((store) => store.take(take));
    const rateLimits = statesOf(limits, outcome);
    if (outcome.refused) throw refusal(outcome, rateLimits);
    // A correction belongs to the minute that was charged: once that minute is over, a new one must not take it.
    const chargedMinuteEndsAt = take.now + outcome.tokens.resetMs;
    let released = false;
    return {
      rateLimits,
      release: (tokensUsed) => {
        if (released) return;
        released = true;
        const tokensDelta = tokensPerMinute === null || this.clock.now() >= chargedMinuteEndsAt ? 0 : tokensUsed - charged;
        if (tokensDelta === 0 && concurrentRequests === null) return;
        this.queueRelease(store, { tenantId, tokensDelta, holder: concurrentRequests === null ? undefined : holder });
      },
    };
  }

  /** Counts one request against `limit` per minute (a job at its submit). */
  async takeRequest(tenantId: string, limit: number): Promise<RateLimitState> {
    const taken = await this.take(tenantId, { requestsPerMinute: limit, tokensPerMinute: null, concurrentRequests: null }, 0);
    return taken.rateLimits.requests!;
  }

  /** Resolves once every release queued so far has reached its store. */
  async flush(): Promise<void> {
    while (this.releasing || this.releases.length > 0) await (this.releasing ?? this.writeReleases());
  }

  private async inStore<T>(work: (store: LimitStore) => Promise<T>): Promise<[LimitStore, T]> {
    if (this.shared) {
      try {
        return [this.shared, await work(this.shared)];
      } catch {
        // Redis is away (its status says so, once): this process counts alone until it is back.
      }
    }
    return [this.local, await work(this.local)];
  }

  private queueRelease(store: LimitStore, release: LimitRelease): void {
    if (store === this.local) {
      void this.local.release([release]);
      return;
    }
    this.releases.push(release);
    if (!this.releasing) queueMicrotask(() => void this.writeReleases());
  }

  /** One pipeline for every release queued meanwhile. A lost release heals by itself: slots expire, windows renew. */
  private writeReleases(): Promise<void> {
    if (this.releasing) return this.releasing;
    const batch = this.releases;
    this.releases = [];
    if (batch.length === 0) return Promise.resolve();
    this.releasing = this.shared!.release(batch)
      .catch((error: unknown) => this.logger.debug(`could not release ${batch.length} limits on Redis: ${(error as Error).message}`))
      .finally(() => {
        this.releasing = undefined;
        if (this.releases.length > 0) queueMicrotask(() => void this.writeReleases());
      });
    return this.releasing;
  }
}

function stateOf(limit: number, window: WindowCount): RateLimitState {
  return { limit, remaining: Math.max(0, limit - window.count), resetMs: window.resetMs };
}

function statesOf(limits: RateLimits, outcome: LimitTakeOutcome): TenantRateLimitStates {
  const states: TenantRateLimitStates = {};
  if (limits.requestsPerMinute !== null) states.requests = stateOf(limits.requestsPerMinute, outcome.requests);
  if (limits.tokensPerMinute !== null && outcome.refused !== 'requests') states.tokens = stateOf(limits.tokensPerMinute, outcome.tokens);
  return states;
}

function refusal(outcome: LimitTakeOutcome, rateLimits: TenantRateLimitStates): TenantRateLimitedError {
  const refused = outcome.refused!;
  const retryAfterMs = refused === 'slots' ? SLOT_RETRY_AFTER_MS : Math.max(1000, outcome[refused].resetMs);
  const error = new TenantRateLimitedError(REFUSALS[refused], retryAfterMs);
  error.rateLimits = rateLimits;
  return error;
}
