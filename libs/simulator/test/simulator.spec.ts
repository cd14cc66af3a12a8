import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import { countTokens, encodeChat } from 'gpt-tokenizer';
import type OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { clientFor, collect, MESSAGES, originOf, postJson } from './helpers';

describe('simulator', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  it('should listen on an ephemeral port and expose a /v1 base URL', () => {
    expect(sim.port).toBeGreaterThan(0);
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}/v1`);
  });

  describe('chat completions', () => {
    it('should answer with OpenAI\'s completion shape and deterministic content', async () => {
      const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES });

      expect(completion).toEqual({
        id: 'chatcmpl-sim-1',
        object: 'chat.completion',
        created: expect.any(Number),
        model: 'gpt-4o-mini',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: expect.any(String), refusal: null },
            logprobs: null,
            finish_reason: 'stop',
          },
        ],
        usage: {
          prompt_tokens: expect.any(Number),
          completion_tokens: 12,
          total_tokens: expect.any(Number),
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        },
        system_fingerprint: 'fp_simulator',
      });
      const content = completion.choices[0].message.content ?? '';
      expect(content.split(' ')).toHaveLength(12);
      expect(content.startsWith('Lorem ipsum dolor')).toBe(true);
      const again = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES });
      expect(again.choices[0].message.content).toBe(content);
    });

    it('should count usage with o200k_base like OpenAI\'s cookbook', async () => {
      const messages = [
        { role: 'system' as const, content: 'You are terse.' },
        { role: 'user' as const, content: 'What is the capital of France?' },
      ];
      const { usage, choices } = await client.chat.completions.create({ model: 'gpt-4o', messages });

      // encodeChat frames each message as <|im_start|>role<|im_sep|>content<|im_end|> and primes the reply: the same count.
      expect(usage?.prompt_tokens).toBe(encodeChat(messages, 'gpt-4o').length);
      expect(usage?.completion_tokens).toBe(countTokens(choices[0].message.content ?? ''));
      expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));
    });

    it('should count names and the text of content parts', async () => {
      const { usage } = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [
          {
            role: 'user',
            name: 'alice',
            content: [
              { type: 'text', text: 'Hello there' },
              { type: 'text', text: 'General Kenobi' },
            ],
          },
        ],
      });

      const expected = 3 + countTokens('user') + countTokens('alice') + 1 + countTokens('Hello there') + countTokens('General Kenobi') + 3;
      expect(usage?.prompt_tokens).toBe(expected);
    });

    it('should cut the content at max_tokens with finish_reason length', async () => {
      const cut = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, max_tokens: 5 });
      const cutNew = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, max_completion_tokens: 3 });
      const roomy = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, max_tokens: 100 });

      expect(cut.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'Lorem ipsum dolor sit amet' } });
      expect(cut.usage?.completion_tokens).toBe(5);
      expect(cutNew.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'Lorem ipsum dolor' } });
      expect(roomy.choices[0].finish_reason).toBe('stop');
      expect(roomy.usage?.completion_tokens).toBe(12);
    });

    it('should write completionWords words when configured', async () => {
      sim.configure({ completionWords: 30 });

      const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });

      expect(completion.choices[0].message.content?.split(' ')).toHaveLength(30);
      expect(completion.usage?.completion_tokens).toBe(30);
    });

    it('should send OpenAI\'s request id, processing time and rate-limit headers', async () => {
      const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }).withResponse();

      expect(response.headers.get('x-request-id')).toBe('req_sim_1');
      expect(Number(response.headers.get('openai-processing-ms'))).toBeGreaterThanOrEqual(0);
      expect(response.headers.get('x-ratelimit-limit-requests')).toMatch(/^\d+$/);
      expect(response.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/);
      expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+m)?\d+(\.\d+)?m?s$/);
      expect(response.headers.get('x-ratelimit-limit-tokens')).toMatch(/^\d+$/);
      expect(response.headers.get('x-ratelimit-remaining-tokens')).toMatch(/^\d+$/);
      expect(response.headers.get('x-ratelimit-reset-tokens')).toMatch(/^(\d+m)?\d+(\.\d+)?m?s$/);
    });

    it('should wait latencyMs before answering', async () => {
      sim.configure({ latencyMs: 50 });

      const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }).withResponse();

      // Lower bound only, with slack for timer rounding.
      expect(Number(response.headers.get('openai-processing-ms'))).toBeGreaterThanOrEqual(45);
    });
  });

  describe('streaming', () => {
    it('should stream one word per chunk, then the finish reason, then usage', async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: MESSAGES,
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks = await collect(stream);

      expect(chunks).toHaveLength(1 + 12 + 1 + 1);
      expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-sim-1']));
      expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gpt-4o-mini')).toBe(true);
      expect(chunks[0].choices[0].delta).toMatchObject({ role: 'assistant', content: '' });
      const words = chunks.slice(1, 13).map((c) => c.choices[0].delta.content);
      expect(words.join('')).toBe((await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES })).choices[0].message.content);
      expect(chunks.slice(0, 13).every((c) => c.choices[0].finish_reason === null && c.usage === null)).toBe(true);
      expect(chunks[13].choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
      expect(chunks[14].choices).toEqual([]);
      expect(chunks[14].usage).toEqual({
        prompt_tokens: encodeChat(MESSAGES, 'gpt-4o').length,
        completion_tokens: 12,
        total_tokens: encodeChat(MESSAGES, 'gpt-4o').length + 12,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      });
    });

    it('should end with data: [DONE] and send no usage unless asked', async () => {
      const response = await postJson(`${sim.url}/chat/completions`, { model: 'gpt-4o', messages: MESSAGES, stream: true, max_tokens: 2 });
      const text = await response.text();

      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('x-request-id')).toBe('req_sim_1');
      const events = text.split('\n\n').filter(Boolean);
      expect(events).toHaveLength(1 + 2 + 1 + 1);
      expect(events.every((event) => event.startsWith('data: '))).toBe(true);
      expect(events.at(-1)).toBe('data: [DONE]');
      const finish = JSON.parse(events[3].slice('data: '.length));
      expect(finish).not.toHaveProperty('usage');
      expect(finish.choices[0].finish_reason).toBe('length');
    });

    it('should deliver the first chunk before the stream ends when chunkIntervalMs is set', async () => {
      sim.configure({ chunkIntervalMs: 20, completionWords: 5 });
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, stream: true });

      let endedBeforeFirstChunk: boolean | undefined;
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of stream) {
        endedBeforeFirstChunk ??= sim.calls()[0].finishedAt !== undefined;
        chunks.push(chunk);
      }

      expect(endedBeforeFirstChunk).toBe(false);
      expect(chunks).toHaveLength(1 + 5 + 1);
      expect(sim.calls()[0].finishedAt).toBeDefined();
    });
  });

  describe('request validation', () => {
    it.each([
      ['a body that is not JSON', '{"model": "gpt-4o",', null, null],
      ['a body without a model', { messages: MESSAGES }, null, null],
      ['a body without messages', { model: 'gpt-4o' }, 'messages', 'missing_required_parameter'],
      ['a body with empty messages', { model: 'gpt-4o', messages: [] }, 'messages', 'empty_array'],
      ['a non-positive max_tokens', { model: 'gpt-4o', messages: MESSAGES, max_tokens: 0 }, 'max_tokens', 'invalid_value'],
    ])('should answer %s with a 400 invalid_request_error', async (_, body, param, code) => {
      const response = await postJson(`${sim.url}/chat/completions`, body);

      expect(response.status).toBe(400);
      expect(response.headers.get('x-request-id')).toBe('req_sim_1');
      expect(await response.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code } });
      expect(sim.calls()[0].status).toBe(400);
    });

    it('should answer an unknown path with a 404 OpenAI error', async () => {
      const response = await fetch(`${sim.url}/assistants`, { method: 'POST', body: '{}' });

      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        error: { message: 'Invalid URL (POST /v1/assistants)', type: 'invalid_request_error', param: null, code: null },
      });
      expect(sim.calls()).toMatchObject([{ path: '/v1/assistants', status: 404 }]);
    });
  });

  describe('models', () => {
    it('should list the fixed models', async () => {
      const models = [];
      for await (const model of client.models.list()) models.push(model);

      expect(models.map((m) => m.id)).toEqual(['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-3.5-turbo', 'o4-mini']);
      expect(models[0]).toEqual({ id: 'gpt-4o', object: 'model', created: expect.any(Number), owned_by: 'tollgate-simulator' });
    });
  });

  describe('calls()', () => {
    it('should record every call in order of arrival', async () => {
      await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });
      await collect(await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true }));
      await client.models.list();
      await fetch(`${originOf(sim)}/v1/nowhere?x=1`);

      const calls = sim.calls();
      expect(calls).toEqual([
        expect.objectContaining({ seq: 1, method: 'POST', path: '/v1/chat/completions', model: 'gpt-4o', stream: false, status: 200 }),
        expect.objectContaining({ seq: 2, method: 'POST', path: '/v1/chat/completions', model: 'gpt-4o-mini', stream: true, status: 200 }),
        expect.objectContaining({ seq: 3, method: 'GET', path: '/v1/models', stream: false, status: 200 }),
        expect.objectContaining({ seq: 4, method: 'GET', path: '/v1/nowhere', status: 404 }),
      ]);
      for (const call of calls) {
        expect(call).toMatchObject({ aborted: false, authorized: true });
        expect(call.fault).toBeUndefined();
        expect(call.finishedAt).toBeGreaterThanOrEqual(call.receivedAt);
      }
      expect(calls[2]).not.toHaveProperty('model');
    });

    it('should record the completion limits a chat request named, and none it did not', async () => {
      await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });
      await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, max_tokens: 7 });
      await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, max_completion_tokens: 9, max_tokens: null });

      expect(sim.calls().map((call) => call.completionLimits)).toEqual([{}, { max_tokens: 7 }, { max_completion_tokens: 9, max_tokens: null }]);
    });

    it('should hand out copies', async () => {
      await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });

      sim.calls()[0].status = 999;
      sim.calls().pop();

      expect(sim.calls()).toHaveLength(1);
      expect(sim.calls()[0].status).toBe(200);
    });

    it('should start over after reset()', async () => {
      await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });
      sim.configure({ completionWords: 2 });

      sim.reset();
      const completion = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });

      expect(sim.calls()).toHaveLength(1);
      expect(sim.calls()[0].seq).toBe(1);
      expect(completion.usage?.completion_tokens).toBe(12);
    });
  });
});
