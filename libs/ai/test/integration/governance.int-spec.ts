import { TenantRateLimitedError } from '../../src/errors/ai-errors';
import { Governance } from '../../src/tenancy/governance';
import { aChatRequest } from '../factories';
import { aTenant, describeEachLimiterStore } from './replica';

const TOKENS_PER_MINUTE = 1_000;

describeEachLimiterStore(Governance.name, (start) => {
  const request = aChatRequest({ max_tokens: 100 });
  const context = (requestId: string) => ({ requestId, stream: false });

  it('should give back the token estimate and hold no slot when the concurrency limit refuses a request', async () => {
    const replica = await start();
    const tenant = await aTenant(replica, { tokensPerMinute: TOKENS_PER_MINUTE, concurrentRequests: 1 });
    const estimate = replica.governance.estimate(request);
    const estimated = estimate.promptTokens + estimate.completionTokens;
    const first = await replica.governance.admit(request, { tenantId: tenant.id, ...context('first') });

    const refused = await replica.governance.admit(request, { tenantId: tenant.id, ...context('refused') }).catch((error: unknown) => error);
    first.finish({ outcome: 'success', attempts: 1, modelServed: 'gpt-4o', usage: { promptTokens: 10, completionTokens: 20 } });
    await replica.governance.drain();
    const next = await replica.governance.admit(request, { tenantId: tenant.id, ...context('next') });

    expect(refused).toBeInstanceOf(TenantRateLimitedError);
    expect(refused).toMatchObject({ limit: 'concurrent_requests', rateLimits: { tokens: { limit: TOKENS_PER_MINUTE } } });
    expect(first.rateLimits.tokens?.remaining).toBe(TOKENS_PER_MINUTE - estimated);
    // The first call's estimate was settled to its 30 tokens; the refused one left nothing behind.
    expect(next.rateLimits.tokens?.remaining).toBe(TOKENS_PER_MINUTE - 30 - estimated);
  });

  it('should give back the token estimate and the slot when the quota refuses a request', async () => {
    const replica = await start();
    const tenant = await aTenant(replica, { tokensPerMinute: TOKENS_PER_MINUTE, concurrentRequests: 1, requestsPerDay: 0 });

    await expect(replica.governance.admit(request, { tenantId: tenant.id, ...context('over-quota') })).rejects.toMatchObject({
      quota: 'requests_per_day',
    });
    await replica.tenants.setLimits(tenant.id, { ...tenant.limits, requestsPerDay: null });
    const admitted = await replica.governance.admit(request, { tenantId: tenant.id, ...context('admitted') });

    const estimate = replica.governance.estimate(request);
    expect(admitted.rateLimits.tokens?.remaining).toBe(TOKENS_PER_MINUTE - estimate.promptTokens - estimate.completionTokens);
  });

  it('should free the slot once the call finishes, whatever its outcome', async () => {
    const replica = await start();
    const tenant = await aTenant(replica, { concurrentRequests: 1 });
    const failed = await replica.governance.admit(request, { tenantId: tenant.id, ...context('failed') });

    failed.finish({ outcome: 'upstream_unavailable', attempts: 3 });
    await replica.governance.drain();

    await expect(replica.governance.admit(request, { tenantId: tenant.id, ...context('after') })).resolves.toMatchObject({ tenant: { id: tenant.id } });
  });
});
