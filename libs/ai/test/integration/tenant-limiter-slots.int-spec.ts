import { TenantRateLimitedError } from '../../src/errors/ai-errors';
import { TenantLimiter } from '../../src/limits/tenant-limiter';
import { FakeClock } from '../fake-clock';
import { aTenantId, describeEachLimiterStore, replicaStarter } from './replica';
import { describeWithRedis } from './services';

/** A slot of `limit`; resolves with what frees it (once the store has freed it). */
async function acquire(limiter: TenantLimiter, tenantId: string, limit: number): Promise<() => Promise<void>> {
  const taken = await limiter.take(tenantId, { requestsPerMinute: null, tokensPerMinute: null, concurrentRequests: limit }, 0);
  return async () => {
    taken.release(0);
    await limiter.flush();
  };
}

describeEachLimiterStore(`${TenantLimiter.name}'s requests in flight`, (start) => {
  it('should hold 2 slots of a limit of 2 and refuse a third with concurrent_requests', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();
    await acquire(limiter, tenant, 2);
    await acquire(limiter, tenant, 2);

    const third = acquire(limiter, tenant, 2);

    await expect(third).rejects.toBeInstanceOf(TenantRateLimitedError);
    await expect(third).rejects.toMatchObject({ code: 'rate_limit_exceeded', limit: 'concurrent_requests', retryAfterMs: 1_000 });
  });

  it('should give a released slot to the next request', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();
    const release = await acquire(limiter, tenant, 2);
    await acquire(limiter, tenant, 2);

    await release();

    await expect(acquire(limiter, tenant, 2)).resolves.toBeInstanceOf(Function);
    await expect(acquire(limiter, tenant, 2)).rejects.toMatchObject({ limit: 'concurrent_requests' });
  });

  it('should free a slot once however often it is released', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();
    const release = await acquire(limiter, tenant, 2);
    await acquire(limiter, tenant, 2);

    await release();
    await release();
    await release();

    await acquire(limiter, tenant, 2);
    await expect(acquire(limiter, tenant, 2)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it("should not count one tenant's slots against another", async () => {
    const { limiter } = await start();
    const [tenant, other] = [aTenantId(), aTenantId()];
    await acquire(limiter, tenant, 1);

    await expect(acquire(limiter, other, 1)).resolves.toBeInstanceOf(Function);
    await expect(acquire(limiter, tenant, 1)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should grant exactly the limit to simultaneous requests', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();

    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => acquire(limiter, tenant, 3)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(3);
  });
});

describeWithRedis(`${TenantLimiter.name}'s requests in flight shared by two replicas on Redis`, (url) => {
  const RESERVATION_TTL_MS = 60_000;
  const start = replicaStarter({ redis: { url }, tenancy: { reservationTtlMs: RESERVATION_TTL_MS } });

  it('should count the slots of both replicas against one limit', async () => {
    const [a, b] = [await start(), await start()];
    const tenant = aTenantId();
    const releaseOnA = await acquire(a.limiter, tenant, 2);
    await acquire(b.limiter, tenant, 2);

    await expect(acquire(a.limiter, tenant, 2)).rejects.toMatchObject({ limit: 'concurrent_requests' });
    await expect(acquire(b.limiter, tenant, 2)).rejects.toMatchObject({ limit: 'concurrent_requests' });
    await releaseOnA();
    await releaseOnA();

    await expect(acquire(b.limiter, tenant, 2)).resolves.toBeInstanceOf(Function);
    await expect(acquire(a.limiter, tenant, 2)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should grant exactly the limit to simultaneous requests on both replicas', async () => {
    const replicas = [await start(), await start()];
    const tenant = aTenantId();

    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => acquire(replicas[i % 2].limiter, tenant, 4)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(4);
  });

  it('should drop the slots of a replica that died once reservationTtlMs has passed', async () => {
    const clock = new FakeClock();
    const crashed = await start({ clock });
    const survivor = await start({ clock });
    const tenant = aTenantId();
    await acquire(crashed.limiter, tenant, 2);
    await acquire(crashed.limiter, tenant, 2);
    await expect(acquire(survivor.limiter, tenant, 2)).rejects.toBeInstanceOf(TenantRateLimitedError);

    clock.advance(RESERVATION_TTL_MS + 1);

    await expect(acquire(survivor.limiter, tenant, 2)).resolves.toBeInstanceOf(Function);
  });
});
