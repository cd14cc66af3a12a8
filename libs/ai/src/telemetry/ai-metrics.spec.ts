import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { AiMetrics } from './ai-metrics';

describe(AiMetrics.name, () => {
  let testing: AiTestingModule;

  afterEach(() => testing?.moduleRef.close());

  const call = (tenantId: string) => ({ tenantId, model: 'gpt-4o', outcome: 'success', promptTokens: 10, completionTokens: 5, costMicroUsd: 200, seconds: 0.5 });

  it('should give the first tenants a label of their own and count the rest as other', async () => {
    testing = await createAiTestingModule({ telemetry: { maxTenantLabels: 2 } });
    const metrics = testing.moduleRef.get(AiMetrics);

    ['alpha', 'beta', 'gamma', 'delta', 'alpha'].forEach((tenant) => metrics.callEnded(call(tenant)));
    const text = await metrics.registry.metrics();

    expect(text).toContain('tollgate_tokens_total{tenant="alpha",model="gpt-4o",kind="prompt"} 20');
    expect(text).toContain('tollgate_tokens_total{tenant="beta",model="gpt-4o",kind="prompt"} 10');
    expect(text).toContain('tollgate_tokens_total{tenant="other",model="gpt-4o",kind="prompt"} 20');
    expect(text).not.toContain('gamma');
    expect(text).toContain('tollgate_requests_total{model="gpt-4o",outcome="success"} 5');
  });
});
