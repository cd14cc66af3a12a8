import { ECHOED_KEY_SHAPED_TOKEN, startSimulator, type RunningSimulator } from '@tollgate/simulator';
import OpenAI, { APIError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { clientFor, MESSAGES, postJson, rejectionOf } from './helpers';

/** Faults that test a client's own defences: an upstream that leaks the caller's key, a body cut short. */
describe('simulator faults that leak a key or cut a body', () => {
  const KEY = 'sk-caller-key-0123456789abcdef';
  let sim: RunningSimulator;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    client = clientFor(sim, KEY);
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  async function collect(stream: AsyncIterable<ChatCompletionChunk>, into: ChatCompletionChunk[]): Promise<unknown> {
    try {
      for await (const chunk of stream) into.push(chunk);
      return undefined;
    } catch (error) {
      return error;
    }
  }

  it('should repeat the Authorization header and a key-shaped token in the message of echo_auth', async () => {
    sim.enqueueFaults({ preset: 'echo_auth' });

    const error = await rejectionOf(client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }));

    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 400, type: 'invalid_request_error' });
    expect((error as APIError).message).toContain(`Authorization: Bearer ${KEY}`);
    expect((error as APIError).message).toContain(ECHOED_KEY_SHAPED_TOKEN);
  });

  it('should send an error fault with failAfterChunks on a stream as an in-stream error event after those chunks', async () => {
    sim.enqueueFaults({ preset: 'echo_auth', failAfterChunks: 2 });
    const chunks: ChatCompletionChunk[] = [];

    const error = await collect(await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, stream: true }), chunks);

    expect(chunks).toHaveLength(2);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).error).toMatchObject({ message: expect.stringContaining(`Bearer ${KEY}`), type: 'invalid_request_error' });
    expect(sim.calls()[0]).toMatchObject({ status: 200, aborted: false, fault: 'echo_auth' });
  });

  it('should answer truncated_body with a 200 whose JSON stops half-way, framed with its own length', async () => {
    sim.enqueueFaults({ preset: 'truncated_body' });

    const response = await postJson(`${sim.url}/chat/completions`, { model: 'gpt-4o', messages: MESSAGES });
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(text.startsWith('{"id":"chatcmpl-sim-1"')).toBe(true);
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
  });

  it('should make the SDK throw a SyntaxError, not an APIError, on truncated_body', async () => {
    sim.enqueueFaults({ preset: 'truncated_body' });

    const error = await rejectionOf(client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }));

    // undici parses the body in its own realm: its SyntaxError is not this one's.
    expect(error).toMatchObject({ name: 'SyntaxError' });
  });

  it('should cut the events of a stream half-way on truncated_body and end the response', async () => {
    sim.enqueueFaults({ preset: 'truncated_body' });

    const response = await postJson(`${sim.url}/chat/completions`, { model: 'gpt-4o', messages: MESSAGES, stream: true });
    const text = await response.text();

    expect(response.status).toBe(200);
    expect(text).toMatch(/^data: \{/);
    expect(text).not.toContain('[DONE]');
    expect(sim.calls()[0]).toMatchObject({ status: 200, aborted: false, fault: 'truncated_body' });
  });

  it('should cut the model list too on truncated_body', async () => {
    sim.enqueueFaults({ preset: 'truncated_body' });

    expect(await rejectionOf(client.models.list())).toMatchObject({ name: 'SyntaxError' });
  });
});
