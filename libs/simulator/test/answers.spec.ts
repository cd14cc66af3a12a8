import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import { countTokens } from 'gpt-tokenizer';
import type OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionTool } from 'openai/resources/chat/completions';
import { clientFor, collect, MESSAGES, postJson } from './helpers';
import { schemaViolations } from './json-schema';

const WEATHER_PARAMETERS = {
  type: 'object',
  additionalProperties: false,
  required: ['city', 'unit', 'days', 'hourly'],
  properties: {
    city: { type: 'string', minLength: 2 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer', minimum: 1, maximum: 14 },
    hourly: { type: 'boolean' },
    note: { type: 'string' },
  },
};

const tool = (name: string, parameters?: Record<string, unknown>): ChatCompletionTool => ({
  type: 'function',
  function: parameters ? { name, parameters } : { name },
});
const WEATHER = tool('get_weather', WEATHER_PARAMETERS);
const TIME = tool('get_time', { type: 'object', required: ['zone'], properties: { zone: { type: 'string', format: 'uuid' } } });

const REVIEW_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['title', 'rating', 'tags', 'author', 'summary'],
  properties: {
    title: { type: 'string' },
    rating: { type: 'integer', minimum: 1, maximum: 5 },
    tags: { type: 'array', items: { type: 'string', enum: ['fiction', 'essay'] }, minItems: 2 },
    author: { $ref: '#/$defs/person' },
    summary: { anyOf: [{ type: 'string', minLength: 10 }, { type: 'null' }] },
  },
  $defs: {
    person: { type: 'object', additionalProperties: false, required: ['name', 'born'], properties: { name: { type: 'string' }, born: { type: ['integer', 'null'], minimum: 1900 } } },
  },
};

describe('simulator answers', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  type Params = Omit<ChatCompletionCreateParamsNonStreaming, 'model' | 'messages' | 'stream'>;

  const create = (params: Params) =>
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, ...params });

  /** The same request streamed and put back together by the SDK's own stream helper. */
  const streamed = (params: Params) =>
    client.chat.completions.stream({ model: 'gpt-4o-mini', messages: MESSAGES, ...params, stream_options: { include_usage: true } }).finalChatCompletion();

  describe('tool calls', () => {
    it('should call the tool with JSON arguments valid against its parameters', async () => {
      const completion = await create({ tools: [WEATHER] });

      const [choice] = completion.choices;
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message).toEqual({
        role: 'assistant',
        content: null,
        refusal: null,
        tool_calls: [{ id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather', arguments: expect.any(String) } }],
      });
      const call = choice.message.tool_calls?.[0];
      const args = JSON.parse(call?.type === 'function' ? call.function.arguments : 'null');
      expect(schemaViolations(args, WEATHER_PARAMETERS)).toEqual([]);
      expect(args).toEqual({ city: 'Lorem', unit: 'celsius', days: 1, hourly: false });
      expect(completion.usage?.completion_tokens).toBe(countTokens(call?.type === 'function' ? call.function.arguments : ''));
    });

    it('should call the function a tool_choice forces, the first under auto or required, none under none', async () => {
      const names = async (tool_choice: ChatCompletionCreateParamsNonStreaming['tool_choice']) => {
        const { choices } = await create({ tools: [WEATHER, TIME], tool_choice });
        return choices[0].message.tool_calls?.map((call) => (call.type === 'function' ? call.function.name : call.type));
      };

      expect(await names({ type: 'function', function: { name: 'get_time' } })).toEqual(['get_time']);
      expect(await names('auto')).toEqual(['get_weather']);
      expect(await names('required')).toEqual(['get_weather']);
      expect(await names('none')).toBeUndefined();
    });

    it('should answer in words under tool_choice none', async () => {
      const { choices } = await create({ tools: [WEATHER], tool_choice: 'none' });

      expect(choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: expect.stringMatching(/^Lorem ipsum/) } });
    });

    it('should call a function without parameters with {}', async () => {
      const { choices } = await create({ tools: [tool('ping')] });

      expect(choices[0].message.tool_calls).toEqual([{ id: expect.any(String), type: 'function', function: { name: 'ping', arguments: '{}' } }]);
    });

    it('should stream the id, type and name first, then the arguments in fragments, then finish_reason tool_calls', async () => {
      const chunks = await collect(
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, tools: [WEATHER], stream: true }),
      );
      const deltas = chunks.map((chunk) => chunk.choices[0]);

      expect(deltas[0].delta).toEqual({
        role: 'assistant',
        content: null,
        refusal: null,
        tool_calls: [{ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather', arguments: '' } }],
      });
      const fragments = deltas.slice(1, -1);
      expect(fragments.length).toBeGreaterThan(1);
      for (const { delta, finish_reason } of fragments) {
        expect(delta).toEqual({ tool_calls: [{ index: 0, function: { arguments: expect.any(String) } }] });
        expect(finish_reason).toBeNull();
      }
      const args = fragments.map(({ delta }) => delta.tool_calls?.[0].function?.arguments).join('');
      expect(schemaViolations(JSON.parse(args), WEATHER_PARAMETERS)).toEqual([]);
      expect(deltas.at(-1)).toMatchObject({ delta: {}, finish_reason: 'tool_calls' });
    });

    it('should stream what it answers whole', async () => {
      const whole = await create({ tools: [WEATHER, TIME], tool_choice: { type: 'function', function: { name: 'get_time' } } });
      const assembled = await streamed({ tools: [WEATHER, TIME], tool_choice: { type: 'function', function: { name: 'get_time' } } });

      const [wholeCall] = whole.choices[0].message.tool_calls ?? [];
      expect(assembled.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { tool_calls: [{ ...wholeCall, id: expect.stringMatching(/^call_/) }] } });
      expect(assembled.usage).toEqual(whole.usage);
    });
  });

  describe('n choices', () => {
    it('should write n choices, each with its index, and count every one in usage', async () => {
      const completion = await create({ n: 3 });

      expect(completion.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
      const contents = completion.choices.map((choice) => choice.message.content ?? '');
      expect(new Set(contents).size).toBe(3);
      expect(completion.usage?.completion_tokens).toBe(contents.reduce((total, content) => total + countTokens(content), 0));
      expect(completion.usage?.completion_tokens).toBe(3 * 12);
    });

    it('should cut every choice at max_tokens', async () => {
      const completion = await create({ n: 2, max_completion_tokens: 4 });

      expect(completion.choices.map((choice) => choice.finish_reason)).toEqual(['length', 'length']);
      expect(completion.usage?.completion_tokens).toBe(8);
    });

    it('should give each choice its own tool call id', async () => {
      const { choices } = await create({ n: 2, tools: [WEATHER] });

      const ids = choices.map((choice) => choice.message.tool_calls?.[0].id);
      expect(ids).toHaveLength(2);
      expect(new Set(ids).size).toBe(2);
    });

    it('should stream the choices interleaved by index', async () => {
      const chunks = await collect(
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, n: 2, max_tokens: 3, stream: true, stream_options: { include_usage: true } }),
      );
      const whole = await create({ n: 2, max_tokens: 3 });

      // Role, three words, finish: five steps, each taken by choice 0 then choice 1.
      expect(chunks.slice(0, -1).map((chunk) => chunk.choices.map((choice) => choice.index))).toEqual(Array.from({ length: 10 }, (_, i) => [i % 2]));
      for (const index of [0, 1]) {
        const mine = chunks.flatMap((chunk) => chunk.choices.filter((choice) => choice.index === index));
        expect(mine.map((choice) => choice.delta.content ?? '').join('')).toBe(whole.choices[index].message.content);
        expect(mine.at(-1)?.finish_reason).toBe('length');
      }
      expect(chunks.at(-1)?.usage).toEqual(whole.usage);
    });
  });

  describe('response formats', () => {
    it('should answer a json_schema with JSON valid against the schema', async () => {
      const completion = await create({ response_format: { type: 'json_schema', json_schema: { name: 'review', schema: REVIEW_SCHEMA, strict: true } } });

      const [choice] = completion.choices;
      expect(choice.finish_reason).toBe('stop');
      const review = JSON.parse(choice.message.content ?? '');
      expect(schemaViolations(review, REVIEW_SCHEMA)).toEqual([]);
      expect(review).toEqual({ title: 'Lorem', rating: 1, tags: ['fiction', 'fiction'], author: { name: 'Lorem', born: 1900 }, summary: 'Lorem ipsu' });
      expect(completion.usage?.completion_tokens).toBe(countTokens(choice.message.content ?? ''));
    });

    it('should answer json_object with a JSON object', async () => {
      const { choices } = await create({ response_format: { type: 'json_object' } });

      const answer = JSON.parse(choices[0].message.content ?? '');
      expect(typeof answer === 'object' && answer !== null && !Array.isArray(answer)).toBe(true);
    });

    it('should cut the JSON at max_tokens with finish_reason length, as OpenAI does', async () => {
      const format = { type: 'json_schema' as const, json_schema: { name: 'review', schema: REVIEW_SCHEMA } };
      const whole = await create({ response_format: format });
      const cut = await create({ response_format: format, max_tokens: 5 });

      expect(cut.choices[0].finish_reason).toBe('length');
      expect(cut.usage?.completion_tokens).toBe(5);
      expect(whole.choices[0].message.content?.startsWith(cut.choices[0].message.content ?? '-')).toBe(true);
      expect(() => JSON.parse(cut.choices[0].message.content ?? '')).toThrow();
    });

    it('should stream the JSON token by token', async () => {
      const format = { type: 'json_schema' as const, json_schema: { name: 'review', schema: REVIEW_SCHEMA } };
      const chunks = await collect(await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, response_format: format, stream: true }));
      const whole = await create({ response_format: format });

      const pieces = chunks.slice(1, -1).map((chunk) => chunk.choices[0].delta.content);
      expect(pieces).toHaveLength(whole.usage?.completion_tokens ?? -1);
      expect(pieces.join('')).toBe(whole.choices[0].message.content);
    });
  });

  describe('logprobs', () => {
    it('should give each token its logprob, bytes and top_logprobs, the chosen token first', async () => {
      const { choices } = await create({ logprobs: true, top_logprobs: 3 });

      const content = choices[0].logprobs?.content ?? [];
      expect(choices[0].logprobs?.refusal).toBeNull();
      expect(content).toHaveLength(12);
      expect(content.map((entry) => entry.token).join('')).toBe(choices[0].message.content);
      for (const entry of content) {
        expect(entry.logprob).toBeLessThanOrEqual(0);
        expect(entry.bytes).toEqual([...Buffer.from(entry.token)]);
        expect(entry.top_logprobs).toHaveLength(3);
        expect(entry.top_logprobs[0]).toEqual({ token: entry.token, logprob: entry.logprob, bytes: entry.bytes });
        const logprobs = entry.top_logprobs.map((top) => top.logprob);
        expect(logprobs).toEqual([...logprobs].sort((a, b) => b - a));
        expect(new Set(entry.top_logprobs.map((top) => top.token)).size).toBe(3);
        for (const top of entry.top_logprobs) expect(top.bytes).toEqual([...Buffer.from(top.token)]);
      }
    });

    it('should give no top_logprobs without top_logprobs, and no logprobs unless asked', async () => {
      const bare = await create({ logprobs: true });
      const none = await create({});

      expect(bare.choices[0].logprobs?.content?.every((entry) => entry.top_logprobs.length === 0)).toBe(true);
      expect(none.choices[0].logprobs).toBeNull();
    });

    it('should give the logprobs of JSON content and of every choice', async () => {
      const { choices } = await create({ n: 2, logprobs: true, top_logprobs: 20, response_format: { type: 'json_object' } });

      for (const choice of choices) {
        expect(choice.logprobs?.content?.map((entry) => entry.token).join('')).toBe(choice.message.content);
        expect(choice.logprobs?.content?.every((entry) => entry.top_logprobs.length === 20)).toBe(true);
      }
    });

    it('should stream each content chunk with the logprobs of its token', async () => {
      const chunks = await collect(
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, logprobs: true, top_logprobs: 2, stream: true }),
      );
      const whole = await create({ logprobs: true, top_logprobs: 2 });

      const words = chunks.slice(1, -1).map((chunk) => chunk.choices[0]);
      expect(words.map((choice) => choice.logprobs?.content)).toEqual(whole.choices[0].logprobs?.content?.map((entry) => [entry]));
      for (const choice of words) expect(choice.logprobs?.content?.[0].token).toBe(choice.delta.content);
      expect([chunks[0], chunks.at(-1)].map((chunk) => chunk?.choices[0].logprobs)).toEqual([null, null]);
      expect((await streamed({ logprobs: true, top_logprobs: 2 })).choices[0].logprobs?.content).toEqual(whole.choices[0].logprobs?.content);
    });
  });

  describe('request checks', () => {
    it.each([
      ['n of 0', { n: 0 }, 'n'],
      ['n of 1.5', { n: 1.5 }, 'n'],
      ['n of 129', { n: 129 }, 'n'],
      ['top_logprobs of 21', { logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
    ])('should refuse %s with OpenAI\'s 400', async (_, fields, param) => {
      const response = await postJson(`${sim.url}/chat/completions`, { model: 'gpt-4o', messages: MESSAGES, ...fields });

      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: { message: expect.stringContaining(`'${param}'`), type: 'invalid_request_error', param, code: 'invalid_value' } });
    });

    it('should ignore what it does not use rather than refuse it', async () => {
      const response = await postJson(`${sim.url}/chat/completions`, {
        model: 'gpt-4o',
        messages: MESSAGES,
        tools: [{ type: 'custom', custom: { name: 'x' } }, 'not a tool'],
        tool_choice: { type: 'allowed_tools' },
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 7, required: 'no' } } },
      });

      expect(response.status).toBe(200);
    });
  });
});
