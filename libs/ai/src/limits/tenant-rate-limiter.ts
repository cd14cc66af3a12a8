import { Injectable } from '@nestjs/common';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitName, TenantRateLimitedError } from '../errors/ai-errors';
import { RateLimitState } from './rate-limit-state';
import { RedisConnection } from './redis-connection';


type Window = 'requests' | 'tokens';

const WINDOW_SECONDS = 60;

/**
 * Requests and tokens per minute per tenant (rate-limiter-flexible, fixed one-minute windows), in
 * process or on Redis so that every replica counts against the same limits. If Redis fails, an
 * in-process limiter takes over rather than letting every request through. The store only
 * counts; the tenant's limit is applied here, so that changing a limit keeps the minute's count.
 */
@Injectable()
export class TenantRateLimiter {
  private readonly limiters: Record<Window, RateLimiterAbstract>;

  constructor(redis: RedisConnection) {
    this.limiters = { requests: counter('requests', redis), tokens: counter('tokens', redis) };
  }

  /** Counts one request; refuses it above `limit` per minute. */
  async takeRequest(tenantId: string, limit: number): Promise<RateLimitState> {
    return this.take('requests', tenantId, limit, 1, 'requests_per_minute');
  }

  /** Counts an estimate of the request's tokens; refuses it when the minute's tokens are spent. */
  async takeTokens(tenantId: string, limit: number, tokens: number): Promise<RateLimitState> {
    // A request larger than the whole limit can still pass in a fresh minute, alone.
    return this.take('tokens', tenantId, limit, Math.min(tokens, limit), 'tokens_per_minute');
  }

  /**
   * Corrects the token count once the real usage is known (negative: give back). A refund never
   * takes the count below zero: the minute that was charged may be over, and a new one must not
   * start in credit.
   */
  async adjustTokens(tenantId: string, delta: number): Promise<void> {
    const limiter = this.limiters.tokens;
    if (delta > 0) {
      await limiter.penalty(tenantId, delta);
      return;
    }
    const counted = (await limiter.get(tenantId))?.consumedPoints ?? 0;
    const refund = Math.min(-delta, counted);
    if (refund > 0) await limiter.reward(tenantId, refund);
  }

  private async take(window: Window, tenantId: string, limit: number, points: number, name: RateLimitName): Promise<RateLimitState> {
    const limiter = this.limiters[window];
    const counted = await limiter.consume(tenantId, points);
    if (counted.consumedPoints <= limit) return stateOf(limit, counted);
    // A refused request used nothing: take its points back out of the count.
    const after = await limiter.reward(tenantId, points);
    const error = new TenantRateLimitedError(name, Math.max(1000, counted.msBeforeNext));
    error.rateLimits = { [window]: stateOf(limit, after) };
    throw error;
  }
}

/** A counter that never refuses by itself: its points are the largest count a minute can hold. */
function counter(window: Window, redis: RedisConnection): RateLimiterAbstract {
  const options = { points: Number.MAX_SAFE_INTEGER, duration: WINDOW_SECONDS, keyPrefix: `tollgate:${window}` };
  const local = new RateLimiterMemory(options);
  if (!redis.client) return local;
  return new RateLimiterRedis({ ...options, storeClient: redis.client, insuranceLimiter: local, rejectIfRedisNotReady: true });
}

function stateOf(limit: number, result: RateLimiterRes): RateLimitState {
  return { limit, remaining: Math.max(0, limit - result.consumedPoints), resetMs: result.msBeforeNext };
}
