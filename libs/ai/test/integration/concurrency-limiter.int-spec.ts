import { TenantRateLimitedError } from '../../src/errors/ai-errors';
import { ConcurrencyLimiter } from '../../src/limits/concurrency-limiter';
import { FakeClock } from '../fake-clock';
import { aTenantId, describeEachLimiterStore, replicaStarter } from './replica';
import { describeWithRedis } from './services';

describeEachLimiterStore(ConcurrencyLimiter.name, (start) => {
  it('should hold 2 slots of a limit of 2 and refuse a third with concurrent_requests', async () => {
    const { concurrency } = await start();
    const tenant = aTenantId();
    await concurrency.acquire(tenant, 2);
    await concurrency.acquire(tenant, 2);

    const third = concurrency.acquire(tenant, 2);

    await expect(third).rejects.toBeInstanceOf(TenantRateLimitedError);
    await expect(third).rejects.toMatchObject({ code: 'rate_limit_exceeded', limit: 'concurrent_requests', retryAfterMs: 1_000 });
  });

  it('should give a released slot to the next request', async () => {
    const { concurrency } = await start();
    const tenant = aTenantId();
    const release = await concurrency.acquire(tenant, 2);
    await concurrency.acquire(tenant, 2);

    await release();

    await expect(concurrency.acquire(tenant, 2)).resolves.toBeInstanceOf(Function);
    await expect(concurrency.acquire(tenant, 2)).rejects.toMatchObject({ limit: 'concurrent_requests' });
  });

  it('should free a slot once however often it is released', async () => {
    const { concurrency } = await start();
    const tenant = aTenantId();
    const release = await concurrency.acquire(tenant, 2);
    await concurrency.acquire(tenant, 2);

    await release();
    await release();
    await release();

    await concurrency.acquire(tenant, 2);
    await expect(concurrency.acquire(tenant, 2)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it("should not count one tenant's slots against another", async () => {
    const { concurrency } = await start();
    const [tenant, other] = [aTenantId(), aTenantId()];
    await concurrency.acquire(tenant, 1);

    await expect(concurrency.acquire(other, 1)).resolves.toBeInstanceOf(Function);
    await expect(concurrency.acquire(tenant, 1)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should grant exactly the limit to simultaneous requests', async () => {
    const { concurrency } = await start();
    const tenant = aTenantId();

    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => concurrency.acquire(tenant, 3)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(3);
  });
});

describeWithRedis(`${ConcurrencyLimiter.name} shared by two replicas on Redis`, (url) => {
  const RESERVATION_TTL_MS = 60_000;
  const start = replicaStarter({ redis: { url }, tenancy: { reservationTtlMs: RESERVATION_TTL_MS } });

  it('should count the slots of both replicas against one limit', async () => {
    const [a, b] = [await start(), await start()];
    const tenant = aTenantId();
    const releaseOnA = await a.concurrency.acquire(tenant, 2);
    await b.concurrency.acquire(tenant, 2);

    await expect(a.concurrency.acquire(tenant, 2)).rejects.toMatchObject({ limit: 'concurrent_requests' });
    await expect(b.concurrency.acquire(tenant, 2)).rejects.toMatchObject({ limit: 'concurrent_requests' });
    await releaseOnA();
    await releaseOnA();

    await expect(b.concurrency.acquire(tenant, 2)).resolves.toBeInstanceOf(Function);
    await expect(a.concurrency.acquire(tenant, 2)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should grant exactly the limit to simultaneous requests on both replicas', async () => {
    const replicas = [await start(), await start()];
    const tenant = aTenantId();

    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => replicas[i % 2].concurrency.acquire(tenant, 4)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(4);
  });

  it('should drop the slots of a replica that died once reservationTtlMs has passed', async () => {
    const clock = new FakeClock();
    const crashed = await start({ clock });
    const survivor = await start({ clock });
    const tenant = aTenantId();
    await crashed.concurrency.acquire(tenant, 2);
    await crashed.concurrency.acquire(tenant, 2);
    await expect(survivor.concurrency.acquire(tenant, 2)).rejects.toBeInstanceOf(TenantRateLimitedError);

    clock.advance(RESERVATION_TTL_MS + 1);

    await expect(survivor.concurrency.acquire(tenant, 2)).resolves.toBeInstanceOf(Function);
  });
});
