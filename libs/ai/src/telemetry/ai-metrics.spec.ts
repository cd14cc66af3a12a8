import { aCallRecord, resolvedOptions } from '../../test/factories';
import { listeningMetrics } from '../../test/metrics';
import { AiMetrics } from './ai-metrics';
import { CallEvents } from './call-events';

describe(AiMetrics.name, () => {
  const call = (tenantId: string) => aCallRecord({ tenantId, promptTokens: 10, completionTokens: 5 });

  it('should give the first tenants a label of their own and count the rest as other', async () => {
    const calls = new CallEvents();
    const metrics = listeningMetrics(resolvedOptions({ telemetry: { maxTenantLabels: 2 } }).telemetry, { calls });

    ['alpha', 'beta', 'gamma', 'delta', 'alpha'].forEach((tenant) => calls.callEnded(call(tenant)));
    const text = await metrics.registry.metrics();

    expect(text).toContain('tollgate_tokens_total{tenant="alpha",model="gpt-4o",kind="prompt"} 20');
    expect(text).toContain('tollgate_tokens_total{tenant="beta",model="gpt-4o",kind="prompt"} 10');
    expect(text).toContain('tollgate_tokens_total{tenant="other",model="gpt-4o",kind="prompt"} 20');
    expect(text).not.toContain('gamma');
    expect(text).toContain('tollgate_requests_total{model="gpt-4o",outcome="success"} 5');
  });

  it('should count a refused call as a request of the model it asked for, with nothing billed', async () => {
    const calls = new CallEvents();
    const metrics = listeningMetrics(resolvedOptions().telemetry, { calls });

    calls.callEnded(aCallRecord({ admitted: false, modelServed: null, modelRequested: 'gpt-4o-mini', outcome: 'tenant_quota_exceeded', promptTokens: 0, completionTokens: 0 }));
    const text = await metrics.registry.metrics();

    expect(text).toContain('tollgate_requests_total{model="gpt-4o-mini",outcome="tenant_quota_exceeded"} 1');
    expect(text).not.toContain('tollgate_tokens_total{');
    expect(text).not.toContain('tollgate_request_duration_seconds_count{');
  });

  it('should count calls by endpoint, and the cached and reasoning parts of their tokens', async () => {
    const calls = new CallEvents();
    const metrics = listeningMetrics(resolvedOptions().telemetry, { calls });

    calls.callEnded(aCallRecord({ endpoint: 'responses', outcome: 'response_failed', promptTokens: 100, cachedTokens: 60, completionTokens: 30, reasoningTokens: 20 }));
    calls.callEnded(aCallRecord({ endpoint: 'embeddings', modelServed: 'text-embedding-3-small', completionTokens: 0 }));
    const text = await metrics.registry.metrics();

    expect(text).toContain('tollgate_endpoint_requests_total{endpoint="responses",outcome="response_failed"} 1');
    expect(text).toContain('tollgate_endpoint_requests_total{endpoint="embeddings",outcome="success"} 1');
    expect(text).toContain('tollgate_token_details_total{tenant="acme",model="gpt-4o",kind="cached"} 60');
    expect(text).toContain('tollgate_token_details_total{tenant="acme",model="gpt-4o",kind="reasoning"} 20');
    expect(text).not.toContain('model="text-embedding-3-small",kind="cached"');
  });
});
