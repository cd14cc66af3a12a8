import { Governance } from '@tollgate/ai/tenancy';
import { aUserMessage, createTenant, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';

/** Reads one sample from the Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text
    .split('\n')
    .find((candidate) => candidate.startsWith(`${name}{`) && wanted.every((label) => candidate.includes(label)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('Metrics moving with the traffic', () => {
  let gateway: GatewayUnderTest;
  const scrape = async () => (await fetch(`${gateway.url}/metrics`)).text();

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_BREAKER_MIN_VOLUME: '2', AI_RETRY_BUDGET_MIN_PER_SECOND: '100' });
  });
  afterAll(() => gateway.close());

  it('should count requests, tokens, cost and latency by model and outcome', async () => {
    const tenantId = 'metered';
    const client = tenantClient(gateway.url, { apiKey: await createTenant(gateway.app, tenantId) });
    const before = await scrape();

    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    await gateway.app.get(Governance).drain();
    const after = await scrape();

    const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(moved('tollgate_requests_total', { model: 'gpt-4o-mini', outcome: 'success' })).toBe(2);
    expect(moved('tollgate_tokens_total', { tenant: tenantId, model: 'gpt-4o-mini', kind: 'completion' })).toBe(24);
    expect(moved('tollgate_cost_usd_total', { tenant: tenantId, model: 'gpt-4o-mini' })).toBeGreaterThan(0);
    expect(moved('tollgate_request_duration_seconds_count', { model: 'gpt-4o-mini', outcome: 'success' })).toBe(2);
  });

  it('should count retries, upstream failures and breaker transitions as the simulator injects faults', async () => {
    const before = await scrape();
    gateway.simulator.enqueueFaults({ preset: 'server_error', times: 20, match: { model: 'm-flaky' } });

    for (let i = 0; i < 3; i++) await rejectionOf(gateway.client.chat.completions.create({ model: 'm-flaky', messages: aUserMessage() }));
    const after = await scrape();

    const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(moved('tollgate_upstream_retries_total', { model: 'm-flaky' })).toBeGreaterThan(0);
    expect(moved('tollgate_upstream_attempt_duration_seconds_count', { model: 'm-flaky', outcome: 'upstream_unavailable' })).toBeGreaterThan(1);
    expect(moved('tollgate_breaker_transitions_total', { model: 'm-flaky', state: 'open' })).toBe(1);
    expect(sample(after, 'tollgate_breaker_state', { model: 'm-flaky' })).toBe(2);
    expect(moved('tollgate_requests_total', { model: 'm-flaky', outcome: 'upstream_unavailable' })).toBeGreaterThan(0);
  });
});
