import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ResolvedAiOptions } from '../ai-module-options';
import { RESOLVED_AI_OPTIONS } from '../ai.module-definition';
import { Clock, InjectClock } from '../common/clock';
import { TenantRateLimitedError } from '../errors/ai-errors';
import { RedisConnection } from './redis-connection';

/** Frees the slot; safe to call more than once. */
export type ReleaseSlot = () => Promise<void>;

// A sorted set of slot holders scored by when they took the slot; holders older than the TTL
// (their process died) are dropped before counting.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

const RETRY_AFTER_MS = 1000;

/** Requests in flight per tenant, on Redis across replicas, or in process (also while Redis is unreachable). */
@Injectable()
export class ConcurrencyLimiter {
  private readonly local = new Map<string, number>();

  constructor(
    private readonly redis: RedisConnection,
    @InjectClock() private readonly clock: Clock,
    @Inject(RESOLVED_AI_OPTIONS) private readonly options: ResolvedAiOptions,
  ) {}

  async acquire(tenantId: string, limit: number): Promise<ReleaseSlot> {
    const release = this.redis.client ? await this.acquireShared(tenantId, limit).catch(() => this.acquireLocal(tenantId, limit)) : this.acquireLocal(tenantId, limit);
    if (!release) throw new TenantRateLimitedError('concurrent_requests', RETRY_AFTER_MS);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await release();
    };
  }

  private acquireLocal(tenantId: string, limit: number): ReleaseSlot | undefined {
    const inFlight = this.local.get(tenantId) ?? 0;
    if (inFlight >= limit) return undefined;
    this.local.set(tenantId, inFlight + 1);
    return async () => {
      const left = (this.local.get(tenantId) ?? 1) - 1;
      if (left > 0) this.local.set(tenantId, left);
      else this.local.delete(tenantId);
    };
  }

  private async acquireShared(tenantId: string, limit: number): Promise<ReleaseSlot | undefined> {
    const redis = this.redis.client!;
    const key = `tollgate:inflight:{${tenantId}}`;
    const holder = randomUUID();
    const ttlMs = this.options.tenancy.reservationTtlMs;
    const taken = await redis.eval(ACQUIRE, 1, key, this.clock.now(), ttlMs, limit, holder);
    if (taken !== 1) return undefined;
    // A holder that cannot be removed now expires with the TTL.
    return async () => {
      await redis.zrem(key, holder).catch(() => undefined);
    };
  }
}
