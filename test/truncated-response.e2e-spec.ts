import { aUserMessage, GatewayUnderTest, rejectionOf, startGatewayWithSimulator } from './support/gateway-harness';

/** An upstream 200 whose JSON stops half-way is the upstream failing, not the gateway: retried like a 5xx. */
describe('Truncated upstream responses', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_RETRY_BUDGET_MIN_PER_SECOND: '100', AI_BREAKER_MIN_VOLUME: '6' });
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.simulator.reset());

  const complete = (model: string) => gateway.client.chat.completions.create({ model, messages: aUserMessage() });

  it('should retry a truncated 200 and answer with the next attempt', async () => {
    gateway.simulator.enqueueFaults({ preset: 'truncated_body' });

    const completion = await complete('m-truncated-once');

    expect(completion.choices[0].message.content).toEqual(expect.any(String));
    expect(gateway.simulator.calls().map((call) => [call.status, call.fault])).toEqual([[200, 'truncated_body'], [200, undefined]]);
  });

  it('should end in a 503 upstream_unavailable with a Retry-After once every attempt was truncated', async () => {
    gateway.simulator.enqueueFaults({ preset: 'truncated_body', times: 10 });

    const error = await rejectionOf(complete('m-truncated-always'));

    expect(error.status).toBe(503);
    expect(error.error).toEqual({
      message: expect.stringContaining('The upstream answered with a response the gateway could not read.'),
      type: 'server_error',
      code: 'upstream_unavailable',
      param: null,
    });
    expect(error.headers?.get('retry-after')).toEqual(expect.any(String));
    expect(gateway.simulator.calls()).toHaveLength(3);
    const failed = gateway.log.requests().find((entry) => entry.modelRequested === 'm-truncated-always');
    expect(failed).toMatchObject({ outcome: 'upstream_unavailable', attempts: 3 });
  });

  it('should count truncated answers in the breaker, which opens and spares the upstream', async () => {
    gateway.simulator.enqueueFaults({ preset: 'truncated_body', times: 20, match: { model: 'm-truncated-breaker' } });
    // Three attempts each: six failures, the breaker's volume.
    await rejectionOf(complete('m-truncated-breaker'));
    await rejectionOf(complete('m-truncated-breaker'));
    const callsWhenOpen = gateway.simulator.calls().length;

    const error = await rejectionOf(complete('m-truncated-breaker'));

    expect(error.status).toBe(503);
    expect(error.message).toContain('calls to this model are paused');
    expect(gateway.simulator.calls()).toHaveLength(callsWhenOpen);
  });
});
