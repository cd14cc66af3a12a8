import { startSimulator, type RunningSimulator } from '@tollgate/simulator';
import { countTokens } from 'gpt-tokenizer';
import OpenAI, { APIError } from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { clientFor, collect, collectUntilFailure, postJson, rejectionOf } from './helpers';

const TWELVE_WORDS = 'Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor';
/** The tokens of a one-message input "Say hello", framed as chat messages are. */
const SAY_HELLO_TOKENS = 3 + countTokens('user') + countTokens('Say hello') + 3;

const TEXT_EVENTS = ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added'];
const CLOSING_EVENTS = ['response.output_text.done', 'response.content_part.done', 'response.output_item.done'];

describe('simulator Responses API', () => {
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim);
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  const streamEvents = async (params: Omit<OpenAI.Responses.ResponseCreateParamsStreaming, 'stream'>, headers: Record<string, string> = {}) =>
    collectUntilFailure<ResponseStreamEvent>(await client.responses.create({ ...params, stream: true }, { headers }));

  describe('without streaming', () => {
    it("should answer a response object of OpenAI's shape", async () => {
      const response = await client.responses.create({ model: 'gpt-4o-mini', input: 'Say hello' });

      expect(response).toMatchObject({
        id: 'resp_sim_1',
        object: 'response',
        created_at: expect.any(Number),
        completed_at: expect.any(Number),
        status: 'completed',
        error: null,
        incomplete_details: null,
        instructions: null,
        max_output_tokens: null,
        model: 'gpt-4o-mini',
        output: [
          {
            id: 'msg_sim_1',
            type: 'message',
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: TWELVE_WORDS, annotations: [], logprobs: [] }],
          },
        ],
        parallel_tool_calls: true,
        temperature: 1,
        tool_choice: 'auto',
        tools: [],
        top_p: 1,
        usage: {
          input_tokens: SAY_HELLO_TOKENS,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: 12,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: SAY_HELLO_TOKENS + 12,
        },
      });
      expect(response.output_text).toBe(TWELVE_WORDS);
      expect(sim.calls()).toMatchObject([{ endpoint: 'responses', path: '/v1/responses', model: 'gpt-4o-mini', stream: false, status: 200 }]);
    });

    it('should count the instructions and every input item, and repeat what the request set', async () => {
      const response = await client.responses.create({
        model: 'gpt-4o',
        instructions: 'Be terse.',
        input: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello' },
          { role: 'user', content: [{ type: 'input_text', text: 'How are you?' }] },
        ],
        temperature: 0.2,
        metadata: { run: 'a' },
      });

      const expected =
        3 + countTokens('developer') + countTokens('Be terse.') +
        3 + countTokens('user') + countTokens('Hi') +
        3 + countTokens('assistant') + countTokens('Hello') +
        3 + countTokens('user') + countTokens('How are you?') +
        3;
      expect(response.usage?.input_tokens).toBe(expected);
      expect(response).toMatchObject({ instructions: 'Be terse.', temperature: 0.2, metadata: { run: 'a' } });
    });

    it('should stop at max_output_tokens with status incomplete', async () => {
      sim.configure({ completionWords: 30 });

      const response = await client.responses.create({ model: 'gpt-4o', input: 'Say hello', max_output_tokens: 20 });

      expect(response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, completed_at: null, max_output_tokens: 20 });
      expect(response.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
      expect(response.output_text.split(' ')).toHaveLength(20);
      expect(response.usage?.output_tokens).toBe(20);
      expect(sim.calls()[0].completionLimits).toEqual({ max_output_tokens: 20 });
    });

    it('should answer response_failed with a 200 response of status failed', async () => {
      const { data: response, response: raw } = await client.responses
        .create({ model: 'gpt-4o', input: 'Say hello' }, { headers: { 'x-simulator-fault': 'response_failed' } })
        .withResponse();

      expect(raw.status).toBe(200);
      expect(response).toMatchObject({
        status: 'failed',
        error: { code: 'server_error', message: 'The model failed to generate a response.' },
        output: [],
        usage: null,
      });
      expect(sim.calls()[0]).toMatchObject({ fault: 'response_failed', status: 200 });
    });

    it('should answer error faults with error responses', async () => {
      const error = await rejectionOf(client.responses.create({ model: 'gpt-4o:fault=rate_limit_exceeded', input: 'Say hello' }));

      expect(error).toBeInstanceOf(APIError);
      expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
      expect((error as APIError).message).toContain('Rate limit reached for gpt-4o');
    });

    it('should cut the body on truncated_body', async () => {
      const response = await postJson(`${sim.url}/responses`, { model: 'gpt-4o', input: 'Say hello' }, { 'x-simulator-fault': 'truncated_body' });
      const text = await response.text();

      expect(response.status).toBe(200);
      expect(text.startsWith('{"id":"resp_sim_1"')).toBe(true);
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
    });
  });

  describe('streaming', () => {
    it('should send the typed events OpenAI sends, numbered in order, the text in one delta per token', async () => {
      const { items: events, error } = await streamEvents({ model: 'gpt-4o-mini', input: 'Say hello' });

      expect(error).toBeUndefined();
      expect(events.map((event) => event.type)).toEqual([
        ...TEXT_EVENTS,
        ...Array<string>(12).fill('response.output_text.delta'),
        ...CLOSING_EVENTS,
        'response.completed',
      ]);
      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i));
      const [created, inProgress] = events;
      expect(created).toMatchObject({ type: 'response.created', response: { id: 'resp_sim_1', status: 'in_progress', output: [], usage: null } });
      expect(inProgress).toMatchObject({ response: { status: 'in_progress' } });
      expect(events[2]).toMatchObject({ output_index: 0, item: { id: 'msg_sim_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
      expect(events[3]).toMatchObject({ item_id: 'msg_sim_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '' } });
      const deltas = events.filter((event) => event.type === 'response.output_text.delta');
      expect(deltas.map((event) => event.delta).join('')).toBe(TWELVE_WORDS);
      expect(deltas[0]).toMatchObject({ item_id: 'msg_sim_1', output_index: 0, content_index: 0 });
      expect(events.at(-4)).toMatchObject({ type: 'response.output_text.done', text: TWELVE_WORDS });
      expect(events.at(-2)).toMatchObject({ item: { status: 'completed', content: [{ type: 'output_text', text: TWELVE_WORDS }] } });
      expect(events.at(-1)).toMatchObject({
        type: 'response.completed',
        response: { status: 'completed', usage: { input_tokens: SAY_HELLO_TOKENS, output_tokens: 12, total_tokens: SAY_HELLO_TOKENS + 12 } },
      });
      expect(sim.calls()[0]).toMatchObject({ endpoint: 'responses', stream: true, status: 200, aborted: false });
    });

    it('should send each event as `event: <type>` and `data: <json>` with its type and sequence number first', async () => {
      const response = await postJson(`${sim.url}/responses`, { model: 'gpt-4o', input: 'Say hello', stream: true });
      const text = await response.text();

      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(text.startsWith('event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_sim_1"')).toBe(true);
      expect(text.endsWith('}\n\n')).toBe(true);
      expect(text).not.toContain('[DONE]');
    });

    it("should be put back together by the SDK's stream helper as the response it would have answered", async () => {
      const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'Say hello' });
      const deltas: string[] = [];
      stream.on('response.output_text.delta', (event) => deltas.push(event.delta));

      const final = await stream.finalResponse();
      sim.reset();
      const whole = await client.responses.create({ model: 'gpt-4o-mini', input: 'Say hello' });

      expect(deltas.join('')).toBe(TWELVE_WORDS);
      expect(final.output_text).toBe(TWELVE_WORDS);
      // The helper adds its own `parsed: null` to each text.
      expect(final.output).toMatchObject(whole.output);
      expect(final.usage).toEqual(whole.usage);
    });

    it('should end with response.incomplete when max_output_tokens cuts the text', async () => {
      sim.configure({ completionWords: 30 });

      const { items: events } = await streamEvents({ model: 'gpt-4o', input: 'Say hello', max_output_tokens: 16 });

      expect(events.filter((event) => event.type === 'response.output_text.delta')).toHaveLength(16);
      expect(events.at(-2)).toMatchObject({ type: 'response.output_item.done', item: { status: 'incomplete' } });
      expect(events.at(-1)).toMatchObject({
        type: 'response.incomplete',
        response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { output_tokens: 16 } },
      });
    });

    it('should end a 200 stream with response.failed after two deltas on response_failed', async () => {
      const { items: events, error } = await streamEvents({ model: 'gpt-4o', input: 'Say hello' }, { 'x-simulator-fault': 'response_failed' });

      expect(error).toBeUndefined();
      expect(events.map((event) => event.type)).toEqual([...TEXT_EVENTS, 'response.output_text.delta', 'response.output_text.delta', 'response.failed']);
      expect(events.at(-1)).toMatchObject({
        sequence_number: 6,
        response: { id: 'resp_sim_1', status: 'failed', error: { code: 'server_error', message: 'The model failed to generate a response.' } },
      });
      expect(sim.calls()[0]).toMatchObject({ fault: 'response_failed', status: 200, aborted: false });
    });

    it("should carry an error fault's code into response.failed after failAfterChunks deltas", async () => {
      sim.enqueueFaults({ preset: 'rate_limit_exceeded', failAfterChunks: 1 });

      const { items: events } = await streamEvents({ model: 'gpt-4o', input: 'Say hello' });

      expect(events.filter((event) => event.type === 'response.output_text.delta')).toHaveLength(1);
      expect(events.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'rate_limit_exceeded' } } });
    });

    it('should drop the connection after two deltas on mid_stream_failure', async () => {
      const { items: events, error } = await streamEvents({ model: 'gpt-4o:fault=mid_stream_failure', input: 'Say hello' });

      expect(error).toBeDefined();
      expect(error).not.toBeInstanceOf(APIError);
      expect(events.map((event) => event.type)).toEqual([...TEXT_EVENTS, 'response.output_text.delta', 'response.output_text.delta']);
      expect(sim.calls()[0]).toMatchObject({ fault: 'mid_stream_failure', status: 200, aborted: false });
    });

    it('should cut the events half-way on truncated_body', async () => {
      const response = await postJson(`${sim.url}/responses`, { model: 'gpt-4o', input: 'Say hello', stream: true }, { 'x-simulator-fault': 'truncated_body' });
      const text = await response.text();

      expect(text.startsWith('event: response.created')).toBe(true);
      expect(text).not.toContain('response.completed');
    });
  });

  describe('reasoning models', () => {
    it('should put a reasoning item first and count its tokens among the output tokens', async () => {
      const response = await client.responses.create({ model: 'o4-mini', input: 'Say hello' });

      expect(response.output.map((item) => item.type)).toEqual(['reasoning', 'message']);
      expect(response.output[0]).toEqual({ id: 'rs_sim_1', type: 'reasoning', summary: [] });
      expect(response.output_text).toBe(TWELVE_WORDS);
      expect(response.usage).toMatchObject({ output_tokens: 12 + 16, output_tokens_details: { reasoning_tokens: 16 }, total_tokens: SAY_HELLO_TOKENS + 28 });
    });

    it('should spend max_output_tokens on reasoning first', async () => {
      const response = await client.responses.create({ model: 'o4-mini', input: 'Say hello', max_output_tokens: 20 });

      expect(response.status).toBe('incomplete');
      expect(response.output_text.split(' ')).toHaveLength(4);
      expect(response.usage).toMatchObject({ output_tokens: 20, output_tokens_details: { reasoning_tokens: 16 } });
    });

    it('should stream the reasoning item before the message, which is then output 1', async () => {
      const events = await collect<ResponseStreamEvent>(await client.responses.create({ model: 'o3', input: 'Say hello', stream: true }));

      expect(events.slice(2, 5)).toMatchObject([
        { type: 'response.output_item.added', output_index: 0, item: { type: 'reasoning' } },
        { type: 'response.output_item.done', output_index: 0, item: { type: 'reasoning' } },
        { type: 'response.output_item.added', output_index: 1, item: { type: 'message' } },
      ]);
      expect(events.find((event) => event.type === 'response.output_text.delta')).toMatchObject({ output_index: 1 });
    });
  });

  describe('response_failed on chat completions', () => {
    it('should send an in-stream error event after two chunks of a stream, and a 500 otherwise', async () => {
      const headers = { 'x-simulator-fault': 'response_failed' };
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true }, { headers });
      const { items: chunks, error: streamError } = await collectUntilFailure(stream);
      const error = await rejectionOf(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }, { headers }));

      expect(chunks).toHaveLength(2);
      expect(streamError).toBeInstanceOf(APIError);
      expect((streamError as APIError).error).toMatchObject({ code: 'server_error', message: 'The model failed to generate a response.' });
      expect(error).toMatchObject({ status: 500, code: 'server_error' });
    });
  });

  it.each([
    ['no model', { input: 'Hi' }, null, null],
    ['an input that is neither a string nor an array', { model: 'gpt-4o', input: 42 }, 'input', 'invalid_type'],
    ['an input item that is not an object', { model: 'gpt-4o', input: ['Hi'] }, 'input[0]', 'invalid_type'],
    ['a max_output_tokens below 16', { model: 'gpt-4o', input: 'Hi', max_output_tokens: 10 }, 'max_output_tokens', 'integer_below_min_value'],
    ['a max_output_tokens that is not an integer', { model: 'gpt-4o', input: 'Hi', max_output_tokens: 'many' }, 'max_output_tokens', 'invalid_type'],
  ])('should answer %s with a 400 invalid_request_error', async (_, body, param, code) => {
    const response = await postJson(`${sim.url}/responses`, body);

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code } });
  });
});
