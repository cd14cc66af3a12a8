import Redis from 'ioredis';
import { TenantRateLimitedError } from '../../src/errors/ai-errors';
import { TakenLimits, TenantLimiter } from '../../src/limits/tenant-limiter';
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

/** A call counted against `limit` tokens a minute; its `release(used)` corrects the count to what it used. */
async function takeTokens(limiter: TenantLimiter, tenantId: string, limit: number, tokens: number): Promise<TakenLimits & { state: NonNullable<TakenLimits['rateLimits']['tokens']> }> {
  const taken = await limiter.take(tenantId, { requestsPerMinute: null, tokensPerMinute: limit, concurrentRequests: null }, tokens);
  return { ...taken, state: taken.rateLimits.tokens! };
}

/** Ends a call that used `used` tokens, and waits until its store has the correction. */
async function settle(limiter: TenantLimiter, taken: TakenLimits, used: number): Promise<void> {
  taken.release(used);
  await limiter.flush();
}

describeEachLimiterStore(`${TenantLimiter.name}'s rates`, (start) => {
  it('should never refund below zero: a new minute does not start in credit', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();
    const taken = await takeTokens(limiter, tenant, 1_000, 100);
    await settle(limiter, (await takeTokens(limiter, tenant, 1_000, 0)), 0);

    // Counted 100, and the correction gives back 4,000: the count stops at zero.
    await settle(limiter, taken, 100 - 4_000);

    expect((await takeTokens(limiter, tenant, 1_000, 10)).state).toMatchObject({ remaining: 990 });
  });

  it('should allow 5 requests a minute, then refuse with requests_per_minute and a retry time', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();

    const states = [];
    for (let i = 0; i < 5; i++) states.push(await limiter.takeRequest(tenant, 5));
    const error = await refusal(limiter.takeRequest(tenant, 5));

    expect(states.map((state) => state.remaining)).toEqual([4, 3, 2, 1, 0]);
    expect(states.every((state) => state.limit === 5 && state.resetMs > 0 && state.resetMs <= MINUTE_MS)).toBe(true);
    expect(error).toMatchObject({ code: 'rate_limit_exceeded', limit: 'requests_per_minute' });
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(MINUTE_MS);
    expect(error.rateLimits?.requests).toMatchObject({ limit: 5, remaining: 0 });
  });

  it('should refuse one tenant without touching another', async () => {
    const { limiter } = await start();
    const [tenant, other] = [aTenantId(), aTenantId()];
    for (let i = 0; i < 5; i++) await limiter.takeRequest(tenant, 5);

    await expect(limiter.takeRequest(tenant, 5)).rejects.toBeInstanceOf(TenantRateLimitedError);

    expect(await limiter.takeRequest(other, 5)).toMatchObject({ remaining: 4 });
  });

  // Changing a tenant's limit keeps the minute's count, in process and on Redis alike.
  it("should keep a tenant's count for the minute when its limit changes", async () => {
    const { limiter } = await start();
    const tenant = aTenantId();
    for (let i = 0; i < 5; i++) await limiter.takeRequest(tenant, 5);

    const raised = await limiter.takeRequest(tenant, 6);

    expect(raised).toMatchObject({ limit: 6, remaining: 0 });
    await expect(limiter.takeRequest(tenant, 6)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should count tokens per minute, give back what a settlement returns and charge what it adds', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();

    const first = await takeTokens(limiter, tenant, 100, 60);
    const tooMany = await refusal(takeTokens(limiter, tenant, 100, 50));
    const rest = await takeTokens(limiter, tenant, 100, 40);
    await settle(limiter, first, 30);
    const givenBack = await takeTokens(limiter, tenant, 100, 30);
    await settle(limiter, rest, 40);
    const none = await refusal(takeTokens(limiter, tenant, 100, 1));

    expect(first.state).toMatchObject({ limit: 100, remaining: 40 });
    expect(tooMany).toMatchObject({ limit: 'tokens_per_minute', rateLimits: { tokens: { limit: 100, remaining: 40 } } });
    expect(tooMany.retryAfterMs).toBeGreaterThan(0);
    expect(rest.state.remaining).toBe(0);
    expect(givenBack.state.remaining).toBe(0);
    expect(none.limit).toBe('tokens_per_minute');
  });

  it('should refuse more tokens once a settlement charged usage above the estimate', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();
    const taken = await takeTokens(limiter, tenant, 100, 50);

    await settle(limiter, taken, 90);

    await expect(takeTokens(limiter, tenant, 100, 11)).rejects.toMatchObject({ limit: 'tokens_per_minute' });
    expect((await takeTokens(limiter, tenant, 100, 10)).state).toMatchObject({ remaining: 0 });
  });

  it('should let a request larger than the whole limit pass alone in a fresh minute', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();

    const alone = await takeTokens(limiter, tenant, 100, 500);

    expect(alone.state.remaining).toBe(0);
    await expect(takeTokens(limiter, tenant, 100, 1)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should admit exactly the limit of concurrent requests', async () => {
    const { limiter } = await start();
    const tenant = aTenantId();

    const outcomes = await Promise.allSettled(Array.from({ length: 30 }, () => limiter.takeRequest(tenant, 5)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
    const reasons = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(reasons.every((reason) => reason instanceof TenantRateLimitedError && reason.limit === 'requests_per_minute')).toBe(true);
  });
});

describeWithRedis(`${TenantLimiter.name}'s rates shared by two replicas on Redis`, (url) => {
  const start = replicaStarter({ redis: { url } });

  it('should refuse the sixth request of a limit of 5 when each replica took 3', async () => {
    const [a, b] = [await start(), await start()];
    const tenant = aTenantId();

    for (let i = 0; i < 3; i++) await a.limiter.takeRequest(tenant, 5);
    const second = [await b.limiter.takeRequest(tenant, 5), await b.limiter.takeRequest(tenant, 5)];
    const sixth = await refusal(b.limiter.takeRequest(tenant, 5));

    expect(second.map((state) => state.remaining)).toEqual([1, 0]);
    expect(sixth.limit).toBe('requests_per_minute');
    await expect(a.limiter.takeRequest(tenant, 5)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should not count refused requests: a raised limit admits exactly one more', async () => {
    const [a, b] = [await start(), await start()];
    const tenant = aTenantId();
    for (let i = 0; i < 5; i++) await a.limiter.takeRequest(tenant, 5);

    const refusals = [];
    for (let i = 0; i < 3; i++) refusals.push(await refusal(b.limiter.takeRequest(tenant, 5)));
    // The count on Redis survives a change of limit: one more at 6 fits only if the refusals were not counted.
    const raised = await a.limiter.takeRequest(tenant, 6);

    expect(refusals.map((error) => error.rateLimits?.requests?.remaining)).toEqual([0, 0, 0]);
    expect(raised).toMatchObject({ limit: 6, remaining: 0 });
    await expect(b.limiter.takeRequest(tenant, 6)).rejects.toBeInstanceOf(TenantRateLimitedError);
  });

  it('should admit exactly the limit when both replicas take at the same time', async () => {
    const replicas = [await start(), await start()];
    const tenant = aTenantId();

    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => replicas[i % 2].limiter.takeRequest(tenant, 5)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5);
  });

  it('should share tokens: what one replica settles, the other can spend', async () => {
    const [a, b] = [await start(), await start()];
    const tenant = aTenantId();
    const taken = await takeTokens(a.limiter, tenant, 100, 90);
    await expect(takeTokens(b.limiter, tenant, 100, 20)).rejects.toMatchObject({ limit: 'tokens_per_minute' });

    await settle(a.limiter, taken, 40);

    expect((await takeTokens(b.limiter, tenant, 100, 60)).state).toMatchObject({ remaining: 0 });
  });

  it('should take a call\'s requests, tokens and slot in one round trip to Redis', async () => {
    const replica = await start();
    const tenant = aTenantId();
    // The first use of the script on a Redis loads it (EVALSHA, NOSCRIPT, EVAL); after that it is one command.
    await replica.limiter.takeRequest(aTenantId(), 10);
    // The connection's own client (BullMQ's clients send blocking reads meanwhile).
    const sent = jest.spyOn((replica.redis as unknown as { client: Redis }).client, 'sendCommand');

    const taken = await replica.limiter.take(tenant, { requestsPerMinute: 10, tokensPerMinute: 1_000, concurrentRequests: 2 }, 100);
    const commandsToTake = sent.mock.calls.length;
    taken.release(40);
    await replica.limiter.flush();

    expect(commandsToTake).toBe(1);
    expect(taken.rateLimits).toMatchObject({ requests: { limit: 10, remaining: 9 }, tokens: { limit: 1_000, remaining: 900 } });
    expect((await takeTokens(replica.limiter, tenant, 1_000, 0)).state.remaining).toBe(960);
  });
});
