import { TenantRateLimitedError } from '../../src/errors/ai-errors';
import { TenantRateLimiter } from '../../src/limits/tenant-rate-limiter';
import { aTenantId, describeEachLimiterStore, replicaStarter } from './replica';
import { describeWithRedis } from './services';

const MINUTE_MS = 60_000;

async function refusal(promise: Promise<unknown>): Promise<TenantRateLimitedError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof TenantRateLimitedError)) throw new Error(`Expected a TenantRateLimitedError, got ${String(error)}.`);
  return error;
}

describeEachLimiterStore(TenantRateLimiter.name, (start) => {
  it('should never refund below zero: a new minute does not start in credit', async () => {
    const { rateLimiter } = await start();
    const tenant = aTenantId();
    await rateLimiter.takeTokens(tenant, 1_000, 100);

    await rateLimiter.adjustTokens(tenant, -4_000);

    expect(await rateLimiter.takeTokens(tenant, 1_000, 10)).toMatchObject({ remaining: 990 });
  });

  it('should allow 5 requests a minute, then refuse with requests_per_minute and a retry time', async () => {
    const { rateLimiter } = await start();
    const tenant = aTenantId();

    const states = [];
    for (let i = 0; i < 5; i++) states.push(await rateLimiter.takeRequest(tenant, 5));
    const error = await refusal(rateLimiter.takeRequest(tenant, 5));

    expect(states.map((state) => state.remaining)).toEqual([4, 3, 2, 1, 0]);
    expect(states.every((state) => state.limit === 5 && state.resetMs > 0 && state.resetMs <= MINUTE_MS)).toBe(true);
    expect(error).toMatchObject({ code: 'rate_limit_exceeded', limit: 'requests_per_minute' });
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(MINUTE_MS);
    expect(error.rateLimits?.requests).toMatchObject({ limit: 5, remaining: 0 });
  });

  it('should refuse one tenant without touching another', async () => {
    const { rateLimiter } = await start();
    const [tenant, other] = [aTenantId(), aTenantId()];
    for (let i = 0; i < 5; i++) await rateLimiter.takeRequest(tenant, 5);

    await expect(rateLimiter.takeRequest(tenant, 5)).rejects.toBeInstanceOf(TenantRateLimitedError);

    expect(await rateLimiter.takeRequest(other, 5)).toMatchObject({ remaining: 4 });
  });

  // Changing a tenant's limit keeps the minute's count, in process and on Redis alike.
  it("should keep a tenant's count for the minute when its limit changes", async () => {
    const { rateLimiter } = await start();
    const tenant = aTenantId();
    for (let i = 0; i < 5; i++) await rateLimiter.takeRequest(tenant, 5);

    const raised = await rateLimiter.takeRequest(tenant, 6);

    expect(raised).toMatchObject({ limit: 6, remaining: 0 });
    await expect(rateLimiter.takeRequest(tenant, 6)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should count tokens per minute, give back what a settlement returns and charge what it adds', async () => {
    const { rateLimiter } = await start();
    const tenant = aTenantId();

    const first = await rateLimiter.takeTokens(tenant, 100, 60);
    const tooMany = await refusal(rateLimiter.takeTokens(tenant, 100, 50));
    const rest = await rateLimiter.takeTokens(tenant, 100, 40);
    await rateLimiter.adjustTokens(tenant, -30);
    const givenBack = await rateLimiter.takeTokens(tenant, 100, 30);
    await rateLimiter.adjustTokens(tenant, 0);
    const none = await refusal(rateLimiter.takeTokens(tenant, 100, 1));

    expect(first).toMatchObject({ limit: 100, remaining: 40 });
    expect(tooMany).toMatchObject({ limit: 'tokens_per_minute', rateLimits: { tokens: { limit: 100, remaining: 40 } } });
    expect(tooMany.retryAfterMs).toBeGreaterThan(0);
    expect(rest.remaining).toBe(0);
    expect(givenBack.remaining).toBe(0);
    expect(none.limit).toBe('tokens_per_minute');
  });

  it('should refuse more tokens once a settlement charged usage above the estimate', async () => {
    const { rateLimiter } = await start();
    const tenant = aTenantId();
    await rateLimiter.takeTokens(tenant, 100, 50);

    await rateLimiter.adjustTokens(tenant, 40);

    await expect(rateLimiter.takeTokens(tenant, 100, 11)).rejects.toMatchObject({ limit: 'tokens_per_minute' });
    expect(await rateLimiter.takeTokens(tenant, 100, 10)).toMatchObject({ remaining: 0 });
  });

  it('should let a request larger than the whole limit pass alone in a fresh minute', async () => {
    const { rateLimiter } = await start();
    const tenant = aTenantId();

    const alone = await rateLimiter.takeTokens(tenant, 100, 500);

    expect(alone.remaining).toBe(0);
    await expect(rateLimiter.takeTokens(tenant, 100, 1)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should admit exactly the limit of concurrent requests', async () => {
    const { rateLimiter } = await start();
    const tenant = aTenantId();

    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, () => rateLimiter.takeRequest(tenant, 5)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
    const reasons = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(reasons.every((reason) => reason instanceof TenantRateLimitedError && reason.limit === 'requests_per_minute')).toBe(true);
  });
});

describeWithRedis(`${TenantRateLimiter.name} shared by two replicas on Redis`, (url) => {
  const start = replicaStarter({ redis: { url } });

  it('should refuse the sixth request of a limit of 5 when each replica took 3', async () => {
    const [a, b] = [await start(), await start()];
    const tenant = aTenantId();

    for (let i = 0; i < 3; i++) await a.rateLimiter.takeRequest(tenant, 5);
    const second = [await b.rateLimiter.takeRequest(tenant, 5), await b.rateLimiter.takeRequest(tenant, 5)];
    const sixth = await refusal(b.rateLimiter.takeRequest(tenant, 5));

    expect(second.map((state) => state.remaining)).toEqual([1, 0]);
    expect(sixth.limit).toBe('requests_per_minute');
    await expect(a.rateLimiter.takeRequest(tenant, 5)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should not count refused requests: a raised limit admits exactly one more', async () => {
    const [a, b] = [await start(), await start()];
    const tenant = aTenantId();
    for (let i = 0; i < 5; i++) await a.rateLimiter.takeRequest(tenant, 5);

    const refusals = [];
    for (let i = 0; i < 3; i++) refusals.push(await refusal(b.rateLimiter.takeRequest(tenant, 5)));
    // The count on Redis survives a change of limit: one more at 6 fits only if the refusals were not counted.
    const raised = await a.rateLimiter.takeRequest(tenant, 6);

    expect(refusals.map((error) => error.rateLimits?.requests?.remaining)).toEqual([0, 0, 0]);
    expect(raised).toMatchObject({ limit: 6, remaining: 0 });
    await expect(b.rateLimiter.takeRequest(tenant, 6)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should admit exactly the limit when both replicas take at the same time', async () => {
    const replicas = [await start(), await start()];
    const tenant = aTenantId();

    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => replicas[i % 2].rateLimiter.takeRequest(tenant, 5)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
  });

  it('should share tokens: what one replica settles, the other can spend', async () => {
    const [a, b] = [await start(), await start()];
    const tenant = aTenantId();
    await a.rateLimiter.takeTokens(tenant, 100, 90);
    await expect(b.rateLimiter.takeTokens(tenant, 100, 20)).rejects.toMatchObject({ limit: 'tokens_per_minute' });

    await a.rateLimiter.adjustTokens(tenant, -50);

    expect(await b.rateLimiter.takeTokens(tenant, 100, 60)).toMatchObject({ remaining: 0 });
  });
});
