import { resolveAiOptions } from '../ai-module-options';
import { FakeClock } from '../../test/fake-clock';
import { RedisConnection } from './redis-connection';
import { TenantLimiter } from './tenant-limiter';

const TOKENS_ONLY = { requestsPerMinute: null, tokensPerMinute: 1_000, concurrentRequests: null };

describe(TenantLimiter.name, () => {
  const clock = new FakeClock();
  const limiter = new TenantLimiter({ limitStore: () => undefined } as unknown as RedisConnection, clock, resolveAiOptions({ upstream: { apiKey: 'sk-test' } }).tenancy);

  it("should give back a call's unused tokens to the minute it was charged in", async () => {
    const taken = await limiter.take('tenant-a', TOKENS_ONLY, 800);

    taken.release(100);

    expect((await limiter.take('tenant-a', TOKENS_ONLY, 0)).rateLimits.tokens?.remaining).toBe(900);
  });

  it('should not give them to the next minute, whose calls the refund would hide', async () => {
    const taken = await limiter.take('tenant-b', TOKENS_ONLY, 800);
    clock.advance(60_001);
    await limiter.take('tenant-b', TOKENS_ONLY, 500);

    taken.release(100);

    expect((await limiter.take('tenant-b', TOKENS_ONLY, 0)).rateLimits.tokens?.remaining).toBe(500);
  });
});
