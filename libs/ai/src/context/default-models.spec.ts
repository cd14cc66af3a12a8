import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { aChatCompletion, aChatRequest, IN_MEMORY_DATABASE } from '../../test/factories';
import { respond } from '../../test/fake-upstream-client';
import { ModelNotPricedError, TenantQuotaExceededError, UnknownModelError } from '../errors/ai-errors';
import type { CallRecord } from '../telemetry/call-events';
import { TenantService } from '../tenancy/tenant.service';

describe('AiModule without a models option', () => {
  let testing: AiTestingModule | undefined;

  afterEach(async () => {
    await testing?.moduleRef.close();
    testing = undefined;
  });

  it('should price a gpt-4o call from the default table and refuse the call that would exceed the cost quota', async () => {
    testing = await createAiTestingModule({ database: IN_MEMORY_DATABASE, plans: { default: { costPerMonthUsd: 0.01, allowUnknownModels: false } } });
    testing.upstream.always(respond(aChatCompletion()));
    const ended: CallRecord[] = [];

    await testing.ai.chat(aChatRequest({ max_tokens: 10 }), { tenantId: 'acme', onCallEnded: (record) => ended.push(record) });
    // 10,000 micro-USD: 1,000 completion tokens at gpt-4o's $10 per million, and the prompt, are more than the $0.01 left.
    const dearer = testing.ai.chat(aChatRequest({ max_tokens: 1_000 }), { tenantId: 'acme' });

    expect(ended[0].costUsd).toBe(0.000033); // 5 prompt tokens × $2.50 + 2 completion tokens × $10.00 per million
    await expect(dearer).rejects.toThrow(TenantQuotaExceededError);
    await expect(dearer).rejects.toMatchObject({ quota: 'cost_per_month' });
  });

  it('should refuse a model the default table does not list, unless the plan allows unknown models', async () => {
    testing = await createAiTestingModule({ database: IN_MEMORY_DATABASE, plans: { default: { allowUnknownModels: false } } });

    await expect(testing.ai.chat(aChatRequest({ model: 'gpt-9' }), { tenantId: 'acme' })).rejects.toThrow(UnknownModelError);
  });

  it("should refuse a call of a tenant whose own cost limit no price can keep, before the upstream is called", async () => {
    testing = await createAiTestingModule({ database: IN_MEMORY_DATABASE, modelDefaults: false, plans: { default: { allowUnknownModels: true, costPerMonthUsd: null } } });
    testing.upstream.always(respond(aChatCompletion()));
    await testing.ai.chat(aChatRequest({ model: 'local-llm' }), { tenantId: 'acme' });
    await testing.moduleRef.get(TenantService).setLimits('acme', { costPerMonthUsd: 1 });

    const refused = testing.ai.chat(aChatRequest({ model: 'local-llm' }), { tenantId: 'acme' });

    await expect(refused).rejects.toThrow(ModelNotPricedError);
    await expect(refused).rejects.toMatchObject({ limitedBy: "tenant 'acme'", model: 'local-llm' });
    expect(testing.upstream.calls).toHaveLength(1);
  });

  it('should refuse to start with modelDefaults: false and a plan whose cost limit no price can keep', async () => {
    const starting = createAiTestingModule({ database: IN_MEMORY_DATABASE, modelDefaults: false, plans: { default: { costPerMonthUsd: 100 } } });

    await expect(starting).rejects.toThrow(ModelNotPricedError);
  });
});
