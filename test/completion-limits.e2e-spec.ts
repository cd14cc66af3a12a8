import { AiService } from '@tollgate/ai';
import { randomUUID } from 'node:crypto';
import { aUserMessage, createTenant, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';
import { JobsClient, OpenAiErrorBody } from './support/jobs-client';

// gpt-4o writes at most 16,384 tokens, gpt-3.5-turbo 4,096 in a 16,385-token window (config/models.yaml).
const GPT_4O_MAX_OUTPUT = 16_384;

describe('Completion limits (e2e)', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
  });
  afterEach(() => gateway.simulator.reset());
  afterAll(() => gateway.close());

  const completionLimitsReceived = () => gateway.simulator.calls().map((call) => call.completionLimits);

  describe('a request that names no completion limit', () => {
    it('should reach the upstream without one, as the tenant sent it', async () => {
      await gateway.client.chat.completions.create({ model: 'gpt-4o', messages: aUserMessage() });
      const stream = await gateway.client.chat.completions.create({ model: 'o4-mini', messages: aUserMessage(), stream: true });
      for await (const chunk of stream) void chunk;

      expect(completionLimitsReceived()).toEqual([{}, {}]);
    });

    it('should be served when its prompt leaves the model less room than its largest completion', async () => {
      // About 13,000 tokens of a 16,385-token window: fewer than 4,096 left for the answer.
      const prompt = 'word '.repeat(13_000);

      const completion = await gateway.client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: aUserMessage(prompt) });

      expect(completion.choices[0].message.content).toEqual(expect.any(String));
      expect(completionLimitsReceived()).toEqual([{}]);
    });

    it('should be reserved at the model’s largest completion, not at a smaller guess', async () => {
      // $0.10 holds gpt-4o's 4,096 completion tokens ($0.04) but not its 16,384 ($0.16).
      const client = tenantClient(gateway.url, { apiKey: await createTenant(gateway.app, `reserve-${randomUUID().slice(0, 8)}`, { costPerMonthUsd: 0.1 }) });

      const refusal = await rejectionOf(client.chat.completions.create({ model: 'gpt-4o', messages: aUserMessage() }));
      const limited = await client.chat.completions.create({ model: 'gpt-4o', messages: aUserMessage(), max_tokens: 4_096 });

      expect([refusal.status, refusal.code]).toEqual([429, 'tenant_quota_exceeded']);
      expect(limited.choices).toHaveLength(1);
    });

    it('should get the allowance its plan sets, sent upstream and named in a response header', async () => {
      const key = await createTenant(gateway.app, `allowance-${randomUUID().slice(0, 8)}`, { defaultCompletionTokens: 256 });

      const { response } = await tenantClient(gateway.url, { apiKey: key })
        .chat.completions.create({ model: 'gpt-4o', messages: aUserMessage() })
        .withResponse();

      expect(response.headers.get('x-tollgate-completion-allowance')).toBe('256');
      expect(completionLimitsReceived()).toEqual([{ max_completion_tokens: 256 }]);
    });

    it('should get its plan’s allowance on a stream too, cut to the room its prompt leaves in the window', async () => {
      const key = await createTenant(gateway.app, `room-${randomUUID().slice(0, 8)}`, { defaultCompletionTokens: 4_096 });
      const prompt = 'word '.repeat(13_000);
      const room = 16_385 - gateway.app.get(AiService).countTokens({ model: 'gpt-3.5-turbo', messages: aUserMessage(prompt) });

      const { data: stream, response } = await tenantClient(gateway.url, { apiKey: key })
        .chat.completions.create({ model: 'gpt-3.5-turbo', messages: aUserMessage(prompt), stream: true })
        .withResponse();
      for await (const chunk of stream) void chunk;

      expect(room).toBeLessThan(4_096);
      expect(response.headers.get('x-tollgate-completion-allowance')).toBe(String(room));
      expect(completionLimitsReceived()).toEqual([{ max_completion_tokens: room }]);
    });
  });

  it('should name no allowance in the headers of a request that set its own limit', async () => {
    const key = await createTenant(gateway.app, `own-limit-${randomUUID().slice(0, 8)}`, { defaultCompletionTokens: 256 });

    const { response } = await tenantClient(gateway.url, { apiKey: key })
      .chat.completions.create({ model: 'gpt-4o', messages: aUserMessage(), max_tokens: 1_000 })
      .withResponse();

    expect(response.headers.get('x-tollgate-completion-allowance')).toBeNull();
    expect(completionLimitsReceived()).toEqual([{ max_tokens: 1_000 }]);
  });

  it.each(['max_tokens', 'max_completion_tokens'] as const)('should refuse a %s above the model’s largest completion with a 400 naming it', async (param) => {
    const error = await rejectionOf(
      gateway.client.chat.completions.create({ model: 'gpt-4o', messages: aUserMessage(), [param]: GPT_4O_MAX_OUTPUT + 1 }),
    );

    expect(error.status).toBe(400);
    expect(error.error).toEqual({
      message: `${param} is too large: ${GPT_4O_MAX_OUTPUT + 1}. This model supports at most ${GPT_4O_MAX_OUTPUT} completion tokens, whereas you provided ${GPT_4O_MAX_OUTPUT + 1}.`,
      type: 'invalid_request_error',
      code: 'invalid_value',
      param,
    });
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  it('should forward a limit of exactly the model’s largest completion', async () => {
    await gateway.client.chat.completions.create({ model: 'gpt-4o', messages: aUserMessage(), max_completion_tokens: GPT_4O_MAX_OUTPUT });

    expect(completionLimitsReceived()).toEqual([{ max_completion_tokens: GPT_4O_MAX_OUTPUT }]);
  });

  it('should refuse an over-large limit at submission of an asynchronous job', async () => {
    const jobs = new JobsClient(gateway.url, gateway.tenantKey);

    const { status, body } = await jobs.submit({ model: 'gpt-4o', messages: aUserMessage(), max_tokens: GPT_4O_MAX_OUTPUT + 1 });

    expect(status).toBe(400);
    expect((body as unknown as OpenAiErrorBody).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_value', param: 'max_tokens' });
  });
});
