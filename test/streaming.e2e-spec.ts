import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { adminClient } from './support/admin-client';
import { aUserMessage, eventually, GatewayUnderTest, rejectionOf, startGatewayWithSimulator } from './support/gateway-harness';

describe('Streaming through the gateway', () => {
  let gateway: GatewayUnderTest;
  let client: OpenAI;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_STREAM_IDLE_TIMEOUT_MS: '300', AI_RETRY_BUDGET_MIN_PER_SECOND: '100' });
    client = gateway.client;
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.simulator.reset());

  const stream = (model: string) =>
    client.chat.completions.create({ model, messages: aUserMessage(), stream: true, stream_options: { include_usage: true } });

  async function collect(chunks: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
    const all: ChatCompletionChunk[] = [];
    for await (const chunk of chunks) all.push(chunk);
    return all;
  }

  it('should relay every chunk, the usage chunk and the served model', async () => {
    const { data, response } = await stream('gpt-4o-mini').withResponse();

    const chunks = await collect(data);

    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('x-tollgate-served-model')).toBe('gpt-4o-mini');
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text.split(' ')).toHaveLength(12);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('should relay chunks before the upstream has finished', async () => {
    gateway.simulator.configure({ chunkIntervalMs: 100 });
    const chunks = await stream('m-slow-stream');

    const iterator = chunks[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();

    const [call] = gateway.simulator.calls();
    expect(call.finishedAt).toBeUndefined();
    await collect({ [Symbol.asyncIterator]: () => iterator });
    await eventually(() => expect(gateway.simulator.calls()[0].finishedAt).toBeDefined());
  });

  it('should retry a failure before the first chunk and then stream', async () => {
    gateway.simulator.enqueueFaults({ preset: 'overloaded' });

    const chunks = await collect(await stream('m-stream-retry'));

    expect(chunks.length).toBeGreaterThan(1);
    expect(gateway.simulator.calls().map((call) => call.status)).toEqual([503, 200]);
  });

  it('should map a failure before the first chunk to an ordinary error status', async () => {
    gateway.simulator.enqueueFaults({ preset: 'insufficient_quota' });

    const error = await rejectionOf(stream('m-stream-quota'));
    // The key is out now: an operator's refresh brings it back for the cases that follow.
    await adminClient(gateway.url).post('/admin/upstream/secrets/refresh');

    expect(error.status).toBe(503);
    expect(error.code).toBe('upstream_quota_exhausted');
  });

  it('should end the stream with an error event when the upstream drops mid-stream', async () => {
    gateway.simulator.enqueueFaults({ preset: 'mid_stream_failure' });
    const received: ChatCompletionChunk[] = [];

    const failure = await collectInto(await stream('m-stream-drop'), received);

    expect(received.length).toBeGreaterThanOrEqual(1);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as InstanceType<typeof OpenAI.APIError>).message).toContain('stream ended unexpectedly');
    expect(gateway.simulator.calls()).toHaveLength(1);
  });

  it('should end a silent stream with an upstream_timeout event and cancel the upstream', async () => {
    gateway.simulator.enqueueFaults({ chunkIntervalMs: 5_000 });
    const received: ChatCompletionChunk[] = [];

    const failure = await collectInto(await stream('m-stream-idle'), received);

    expect(received).toHaveLength(1);
    expect((failure as InstanceType<typeof OpenAI.APIError>).message).toContain('went silent');
    await eventually(() => expect(gateway.simulator.calls()[0].aborted).toBe(true));
  });

  it('should cancel the upstream stream when the tenant disconnects', async () => {
    gateway.simulator.configure({ chunkIntervalMs: 200 });
    const chunks = await stream('m-stream-leaving');

    for await (const _chunk of chunks) break; // the SDK aborts its request when the loop exits

    await eventually(() => expect(gateway.simulator.calls()[0].aborted).toBe(true));
  });

  async function collectInto(chunks: AsyncIterable<ChatCompletionChunk>, into: ChatCompletionChunk[]): Promise<unknown> {
    try {
      for await (const chunk of chunks) into.push(chunk);
    } catch (error) {
      return error;
    }
    throw new Error('expected the stream to fail, it ended normally');
  }
});
