import OpenAI from 'openai';
import { GatewayUnderTest, rejectionOf, startGatewayWithSimulator } from './support/gateway-harness';

const A_VALID_REQUEST = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello.' }], max_completion_tokens: 20 };

/** `{ prefix0: 0, prefix1: 0, … }` with `count` keys, as JSON. */
function wideObjectJson(count: number, keyOf: (index: number) => string): string {
  const entries = Array.from({ length: count }, (_, index) => `"${keyOf(index)}":0`);
  return `{${entries.join(',')}}`;
}

// Built once: on a shared machine, building them is slower than the gateway's refusal.
const WIDE_BODY = `${wideObjectJson(150_000, (index) => `k${index}`).slice(0, -1)},"model":"gpt-4o-mini","messages":[]}`;
const HUGE_LOGIT_BIAS_BODY = JSON.stringify(A_VALID_REQUEST).replace(/}$/, `,"logit_bias":${wideObjectJson(250_000, String)}}`);

/**
 * A generous bound on the CPU time (not wall-clock: the machine is shared) this process spends sending and refusing a
 * hostile body, the gateway's event loop included: the refusal takes tens of milliseconds; class-transformer took 10 s and more.
 */
const MAX_CPU_MS = 1_000;

/** The CPU time this process spent on `work`, in milliseconds. */
async function cpuMsOf<T>(work: () => Promise<T>): Promise<{ result: T; cpuMs: number }> {
  const before = process.cpuUsage();
  const result = await work();
  const { user, system } = process.cpuUsage(before);
  return { result, cpuMs: (user + system) / 1000 };
}

describe('Hostile request bodies', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
    // Warmed up, so that the probes measure the loop and not the first compilation of their path.
    for (let round = 0; round < 20; round++) {
      await (await fetch(`${gateway.url}/health/live`)).arrayBuffer();
      await (await post('{"model": 1}')).arrayBuffer();
    }
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.simulator.reset());

  const post = (body: string) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.tenantKey}`, 'content-type': 'application/json' },
      body,
    });

  /** Polls liveness, one probe after the other, until `work` settles: the status of each probe. */
  async function probedWhile<T>(work: Promise<T>): Promise<{ result: T; probes: Array<{ status: number }> }> {
    let settled = false;
    const done = work.finally(() => {
      settled = true;
    });
    const probes: Array<{ status: number }> = [];
    while (!settled) {
      const response = await fetch(`${gateway.url}/health/live`);
      await response.arrayBuffer();
      probes.push({ status: response.status });
    }
    return { result: await done, probes };
  }

  async function expectRefusedKeepingTheLoopFree(body: string): Promise<{ message: string; param: string | null }> {
    const { result: refusal, cpuMs } = await cpuMsOf(async () => {
      const response = await post(body);
      return { status: response.status, body: (await response.json()) as { error: { message: string; type: string; param: string | null } } };
    });
    const { result: response, probes } = await probedWhile(post(body));
    await response.arrayBuffer();

    expect(refusal.status).toBe(400);
    const { error } = refusal.body;
    expect(error.type).toBe('invalid_request_error');
    expect(cpuMs).toBeLessThan(MAX_CPU_MS);
    expect(response.status).toBe(400);
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.every((probe) => probe.status === 200)).toBe(true);
    expect(gateway.simulator.calls()).toHaveLength(0);
    return error;
  }

  it('should refuse a body of 150,000 keys with 400 while liveness keeps answering at once', async () => {
    const error = await expectRefusedKeepingTheLoopFree(WIDE_BODY);

    expect(error).toMatchObject({ param: null, message: expect.stringContaining('more than 1000 keys') });
  }, 30_000);

  it('should refuse a logit_bias of 250,000 entries with 400 naming logit_bias while liveness keeps answering at once', async () => {
    const error = await expectRefusedKeepingTheLoopFree(HUGE_LOGIT_BIAS_BODY);

    expect(error.param).toBe('logit_bias');
  }, 30_000);

  it.each([
    ['an array of 10,001 elements', { ...A_VALID_REQUEST, stop: Array.from({ length: 10_001 }, () => 'x') }, 'stop', 'more than 10000 elements'],
    ['more than 50,000 values', { ...A_VALID_REQUEST, metadata: { a: Array.from({ length: 6 }, () => Array.from({ length: 9_000 }, () => 0)) } }, null, 'more than 50000 JSON values'],
    ['a key of 1,025 characters', { ...A_VALID_REQUEST, metadata: { ['k'.repeat(1_025)]: 'v' } }, 'metadata', 'longer than 1024 characters'],
  ])('should refuse %s with 400 before validating it', async (_case, body, param, fragment) => {
    const response = await post(JSON.stringify(body));

    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { message: string; param: string | null } };
    expect(error).toMatchObject({ param, message: expect.stringContaining(fragment) });
  });

  it('should refuse a logit_bias of more than 300 entries, as OpenAI does, naming it', async () => {
    const logitBias = Object.fromEntries(Array.from({ length: 301 }, (_, token) => [String(token), 1]));

    const error = await rejectionOf(gateway.client.chat.completions.create({ ...A_VALID_REQUEST, logit_bias: logitBias }));

    expect(error).toMatchObject({ status: 400, param: 'logit_bias' });
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  describe('control characters where OpenAI takes an identifier', () => {
    const chat = (request: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>) =>
      gateway.client.chat.completions.create({ ...A_VALID_REQUEST, ...request } as OpenAI.ChatCompletionCreateParamsNonStreaming);

    it.each([
      ['a NUL in model', { model: 'gpt-4o-mini\u0000' }, 'model'],
      ['a newline in model', { model: 'gpt-4o\nmini' }, 'model'],
      ['a NUL in user', { user: 'alice\u0000' }, 'user'],
      ['an escape in safety_identifier', { safety_identifier: 'a\u001b[31m' }, 'safety_identifier'],
      ['a NUL in a metadata key', { metadata: { 'a\u0000b': 'v' } }, 'metadata'],
      ['a DEL in a message name', { messages: [{ role: 'user', content: 'hi', name: 'bob\u007f' }] }, 'messages[0].name'],
      ['a NUL in the tool_choice function name', { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'f\u0000' } } }, 'tool_choice.function.name'],
    ] as const)('should refuse %s with 400 naming the field, before the upstream', async (_case, request, param) => {
      const error = await rejectionOf(chat(request as Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>));

      expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param });
      expect(gateway.simulator.calls()).toHaveLength(0);
    });

    it('should still take control characters in message content, where they are text', async () => {
      const completion = await chat({ messages: [{ role: 'user', content: 'tab\there, newline\nthere' }] });

      expect(completion.object).toBe('chat.completion');
    });
  });
});
