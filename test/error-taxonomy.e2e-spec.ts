import OpenAI from 'openai';
import { adminClient } from './support/admin-client';
import { aUserMessage, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, eventually } from './support/gateway-harness';

/**
 * One case per row of DESIGN.md's error taxonomy, through the gateway over real HTTP, driven
 * by the official OpenAI SDK. Every case uses a model of its own, so breakers never leak between cases.
 */
describe('Error taxonomy (gateway against the simulator)', () => {
  let gateway: GatewayUnderTest;
  let client: OpenAI;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({
      AI_FALLBACK_MODELS: 'gpt-4o-retired=gpt-4o-mini-fallback',
      // A roomy retry budget: this suite checks classification, the storm suite checks the budget.
      AI_RETRY_BUDGET_MIN_PER_SECOND: '100',
    });
    client = gateway.client;
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.simulator.reset());

  const chat = (model: string) => client.chat.completions.create({ model, messages: aUserMessage() });
  const callsFor = (model: string) => gateway.simulator.calls().filter((call) => call.model === model);

  it('should relay a completion with the request id, the upstream request id and the served model', async () => {
    const { data, response } = await chat('gpt-4o-mini').withResponse();

    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message.content).toEqual(expect.any(String));
    expect(response.headers.get('x-request-id')).toEqual(expect.any(String));
    expect(response.headers.get('x-upstream-request-id')).toBe('req_sim_1');
    expect(response.headers.get('x-tollgate-served-model')).toBe('gpt-4o-mini');
  });

  it('should keep the caller’s x-request-id', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: aUserMessage() }, { headers: { 'x-request-id': 'caller-id-42' } })
      .withResponse();

    expect(response.headers.get('x-request-id')).toBe('caller-id-42');
  });

  it('should return 400 context_length_exceeded without retrying', async () => {
    gateway.simulator.enqueueFaults({ preset: 'context_length_exceeded' });

    const error = await rejectionOf(chat('m-context'));

    expect(error.status).toBe(400);
    expect(error.code).toBe('context_length_exceeded');
    expect(error.param).toBe('messages');
    expect(error.message).toContain('maximum context length');
    expect(callsFor('m-context')).toHaveLength(1);
  });

  it('should return any other 400 with the upstream message, without retrying', async () => {
    gateway.simulator.enqueueFaults({ preset: 'bad_request' });

    const error = await rejectionOf(chat('m-bad'));

    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain("Invalid value for 'temperature'");
    expect(callsFor('m-bad')).toHaveLength(1);
  });

  it('should answer an upstream 401 with 502 upstream_auth_failed, never a 401', async () => {
    gateway.simulator.enqueueFaults({ preset: 'invalid_api_key', times: 5 });

    const error = await rejectionOf(chat('m-auth'));
    // The key is out now, refused: calls fail fast until it rotates, a probe passes or an operator refreshes it.
    const whileOut = await rejectionOf(chat('m-auth-other'));
    const callsWhileOut = gateway.simulator.calls().length;
    await adminClient(gateway.url).post('/admin/upstream/secrets/refresh');

    expect(error.status).toBe(502);
    expect(error.code).toBe('upstream_auth_failed');
    expect(error.message).not.toContain('sk-');
    expect(whileOut.status).toBe(502);
    expect(callsWhileOut).toBe(1); // the refused call alone: the second never reached the upstream
  });

  it('should return 403 when the upstream refuses the model and no fallback is configured', async () => {
    gateway.simulator.enqueueFaults({ preset: 'permission_denied' });

    const error = await rejectionOf(chat('m-forbidden'));

    expect(error.status).toBe(403);
    expect(callsFor('m-forbidden')).toHaveLength(1);
  });

  it('should return 404 model_not_found without retrying', async () => {
    gateway.simulator.enqueueFaults({ preset: 'model_not_found' });

    const error = await rejectionOf(chat('m-unknown'));

    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
    expect(callsFor('m-unknown')).toHaveLength(1);
  });

  it('should serve an unknown model from its configured fallback and say so in a header', async () => {
    gateway.simulator.enqueueFaults({ preset: 'model_not_found', match: { model: 'gpt-4o-retired' } });

    const { data, response } = await chat('gpt-4o-retired').withResponse();

    expect(response.headers.get('x-tollgate-served-model')).toBe('gpt-4o-mini-fallback');
    expect(data.model).toBe('gpt-4o-mini-fallback');
    expect(gateway.simulator.calls().map((call) => call.model)).toEqual(['gpt-4o-retired', 'gpt-4o-mini-fallback']);
  });

  it.each([
    ['request_timeout', 408],
    ['conflict', 409],
    ['server_error', 500],
    ['bad_gateway', 502],
    ['overloaded', 503],
  ] as const)('should retry a transient %s (%d) and succeed', async (preset, status) => {
    const model = `m-transient-${status}`;
    gateway.simulator.enqueueFaults({ preset });

    const completion = await chat(model);

    expect(completion.object).toBe('chat.completion');
    expect(callsFor(model).map((call) => call.status)).toEqual([status, 200]);
  });

  it('should retry after a connection reset', async () => {
    gateway.simulator.enqueueFaults({ preset: 'reset' });

    await chat('m-reset');

    expect(callsFor('m-reset')).toHaveLength(2);
  });

  it('should answer 503 with Retry-After once transient failures exhaust the attempts', async () => {
    gateway.simulator.enqueueFaults({ preset: 'server_error', times: 10 });

    const error = await rejectionOf(chat('m-down'));

    expect(error.status).toBe(503);
    expect(error.code).toBe('upstream_unavailable');
    expect(Number(error.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(callsFor('m-down')).toHaveLength(3);
  });

  it('should wait the upstream retry-after-ms before retrying a 429, measured on the simulator clock', async () => {
    gateway.simulator.enqueueFaults({ preset: 'rate_limit_exceeded', retryAfterMs: 400, retryAfter: '1' });

    await chat('m-429');

    const [limited, retried] = callsFor('m-429');
    expect(limited.status).toBe(429);
    expect(retried.status).toBe(200);
    expect(retried.receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(400);
  });

  it('should answer 503 upstream_rate_limited with Retry-After when 429s outlast the attempts', async () => {
    gateway.simulator.enqueueFaults({ preset: 'rate_limit_exceeded', retryAfterMs: 10, times: 10 });

    const error = await rejectionOf(chat('m-429-long'));

    expect(error.status).toBe(503);
    expect(error.code).toBe('upstream_rate_limited');
    expect(error.headers?.get('retry-after')).toBe('1');
    expect(callsFor('m-429-long')).toHaveLength(3);
  });

  it('should fail at once, passing the wait on, when the upstream asks for longer than the deadline', async () => {
    gateway.simulator.enqueueFaults({ preset: 'rate_limit_exceeded', retryAfter: '30', retryAfterMs: 30_000 });

    const error = await rejectionOf(chat('m-429-later'));

    expect(error.status).toBe(503);
    expect(error.headers?.get('retry-after')).toBe('30');
    expect(callsFor('m-429-later')).toHaveLength(1);
  });

  it('should never retry insufficient_quota, then fail fast while the only key is out, until an operator refreshes it', async () => {
    gateway.simulator.enqueueFaults({ preset: 'insufficient_quota', times: 5 });

    const first = await rejectionOf(chat('m-quota'));
    // Exhausted credit is the account's: every model waits, not just this one.
    const second = await rejectionOf(chat('m-quota-other'));

    expect(first.status).toBe(503);
    expect(first.code).toBe('upstream_quota_exhausted');
    expect(Number(first.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(second.status).toBe(503);
    expect(second.code).toBe('upstream_quota_exhausted');
    expect(Number(second.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(gateway.simulator.calls()).toHaveLength(1);

    gateway.simulator.reset();
    const refreshed = await adminClient(gateway.url).post('/admin/upstream/secrets/refresh');
    expect(refreshed.body).toMatchObject({ key: 'key-1', outcome: 'unchanged' });
    expect(refreshed.body.out).toBeUndefined();
    await expect(chat('m-quota')).resolves.toMatchObject({ object: 'chat.completion' });
  });

  it('should not retry a "Request too large" 429', async () => {
    gateway.simulator.enqueueFaults({ preset: 'request_too_large', times: 5 });

    const error = await rejectionOf(chat('m-too-large'));

    expect(error.status).toBe(413);
    expect(error.code).toBe('request_too_large');
    expect(callsFor('m-too-large')).toHaveLength(1);
  });

  it('should answer 504 upstream_timeout when the upstream hangs, and cancel every upstream call', async () => {
    gateway.simulator.enqueueFaults({ preset: 'hang', times: 10 });

    const error = await rejectionOf(chat('m-hang'));

    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    await eventually(() => {
      const calls = callsFor('m-hang');
      expect(calls.length).toBeGreaterThanOrEqual(1);
      expect(calls.every((call) => call.aborted)).toBe(true);
    });
  });

  it('should cancel the upstream call when the tenant disconnects', async () => {
    gateway.simulator.enqueueFaults({ preset: 'hang' });
    const controller = new AbortController();

    const pending = client.chat.completions.create({ model: 'm-leaving', messages: aUserMessage() }, { signal: controller.signal });
    await eventually(() => expect(callsFor('m-leaving')).toHaveLength(1));
    controller.abort();

    await expect(pending).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
    await eventually(() => expect(callsFor('m-leaving')[0].aborted).toBe(true));
  });

  it('should honour a shorter deadline sent by the SDK as X-Stainless-Timeout', async () => {
    gateway.simulator.enqueueFaults({ preset: 'hang', times: 10 });

    const error = await rejectionOf(
      client.chat.completions.create({ model: 'm-short', messages: aUserMessage() }, { headers: { 'x-stainless-timeout': '1' } }),
    );

    expect(error.status).toBe(504);
    expect(callsFor('m-short')).toHaveLength(1);
  });
});
