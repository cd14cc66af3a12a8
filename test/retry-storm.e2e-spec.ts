import { aUserMessage, GatewayUnderTest, rejectionOf, startGatewayWithSimulator } from './support/gateway-harness';

/** With the production defaults for the retry budget and the breaker, an outage must not multiply load. */
describe('Retry storm against a dead upstream', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_RETRY_BUDGET_MIN_PER_SECOND: undefined, AI_BREAKER_RESET_MS: undefined });
  });
  afterAll(() => gateway.close());

  it('should make at most ~110% upstream calls for 100 requests, then fail fast once the breaker opens', async () => {
    gateway.simulator.configure({ randomFaultRate: 1, randomFaults: ['server_error'] });
    const requests = 100;

    const failures = [];
    for (let wave = 0; wave < requests / 10; wave++) {
      const batch = Array.from({ length: 10 }, () =>
        rejectionOf(gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() })),
      );
      failures.push(...(await Promise.all(batch)));
    }

    const upstreamCalls = gateway.simulator.calls().length;
    expect(upstreamCalls).toBeLessThanOrEqual(requests * 1.1);
    expect(failures.every((error) => error.status === 503 && Number(error.headers?.get('retry-after')) >= 1)).toBe(true);
    const lastWave = failures.slice(-10);
    expect(lastWave.every((error) => error.message.includes('paused'))).toBe(true);
    expect(upstreamCalls).toBeLessThan(requests);
  });
});
