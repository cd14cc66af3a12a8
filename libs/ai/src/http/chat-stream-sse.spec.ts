import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { UpstreamUnavailableError } from '../errors/ai-errors';
import { rememberAsReceived } from '../upstream/as-received';
import type { ChatStream } from '../upstream/chat-stream';
import { FastifyReplyLike, sendChatStream } from './chat-stream-sse';

/** A Node response that records what is written and can pretend its client stopped reading. */
class FakeResponse extends EventEmitter {
  status?: number;
  headers: Record<string, unknown> = {};
  written: string[] = [];
  ended = false;
  destroyed = false;
  /** What `write` answers: false means the socket buffer is full. */
  accepting = true;

  writeHead(status: number, headers: Record<string, unknown>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  write(data: string): boolean {
    this.written.push(data);
    return this.accepting;
  }

  end(data?: string): this {
    if (data) this.written.push(data);
    this.ended = true;
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}

const aChunk = (content: string) => ({ id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content }, finish_reason: null }] }) as ChatCompletionChunk;

function aStream(chunks: ChatCompletionChunk[], failure?: Error): ChatStream {
  return {
    model: 'gpt-4o-mini',
    attempts: 1,
    upstream: 'openai',
    cancel: () => undefined,
    async *[Symbol.asyncIterator]() {
      yield* chunks;
      if (failure) throw failure;
    },
  };
}

const asResponse = (fake: FakeResponse) => fake as unknown as ServerResponse;

describe(sendChatStream.name, () => {
  afterEach(() => jest.useRealTimers());

  it('should send each chunk as an event, then data: [DONE]', async () => {
    const response = new FakeResponse();

    await sendChatStream(asResponse(response), aStream([aChunk('Hel'), aChunk('lo')]), { 'x-served-model': 'gpt-4o-mini' });

    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-served-model': 'gpt-4o-mini' });
    expect(response.written).toEqual([`data: ${JSON.stringify(aChunk('Hel'))}\n\n`, `data: ${JSON.stringify(aChunk('lo'))}\n\n`, 'data: [DONE]\n\n']);
    expect(response.ended).toBe(true);
  });

  it('should send a chunk as the upstream sent it, and one it knows no text of as JSON', async () => {
    const response = new FakeResponse();
    const asSent = '{"id": "c1",  "object":"chat.completion.chunk","created":0,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"caf\\u00e9"},"finish_reason":null}]}';

    await sendChatStream(asResponse(response), aStream([rememberAsReceived(JSON.parse(asSent) as ChatCompletionChunk, asSent), aChunk('lo')]));

    expect(response.written.slice(0, 2)).toEqual([`data: ${asSent}\n\n`, `data: ${JSON.stringify(aChunk('lo'))}\n\n`]);
  });

  it("should end a stream that fails after its first chunk with OpenAI's error as the last event", async () => {
    const response = new FakeResponse();

    await sendChatStream(asResponse(response), aStream([aChunk('Hel')], new UpstreamUnavailableError('stream_interrupted')));

    const last = JSON.parse(response.written.at(-1)!.replace(/^data: /, ''));
    expect(last).toEqual({ error: { message: expect.stringContaining('stream ended unexpectedly'), type: 'server_error', code: 'upstream_unavailable', param: null } });
    expect(response.written).not.toContain('data: [DONE]\n\n');
  });

  it('should name the request id in an unexpected failure, as told', async () => {
    const response = new FakeResponse();

    await sendChatStream(asResponse(response), aStream([aChunk('a')], new TypeError('boom')), {}, { requestId: 'req-7', serverName: 'The billing API' });

    expect(response.written.at(-1)).toContain('The billing API failed unexpectedly. Quote request id req-7 to its operator.');
  });

  it('should wait for drain while the client reads slower than the stream comes', async () => {
    const response = new FakeResponse();
    response.accepting = false;

    const sending = sendChatStream(asResponse(response), aStream([aChunk('a'), aChunk('b')]));
    await new Promise((resolve) => setImmediate(resolve));

    expect(response.written).toHaveLength(1);
    response.emit('drain');
    await new Promise((resolve) => setImmediate(resolve));
    expect(response.written).toHaveLength(2);
    response.emit('drain');
    await sending;
    expect(response.written.at(-1)).toBe('data: [DONE]\n\n');
  });

  it('should drop a client that stops reading once the drain timeout passes', async () => {
    jest.useFakeTimers();
    const response = new FakeResponse();
    response.accepting = false;

    const sending = sendChatStream(asResponse(response), aStream([aChunk('a'), aChunk('b')]), {}, { drainTimeoutMs: 1000 });
    await jest.advanceTimersByTimeAsync(999);
    expect(response.destroyed).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await sending;

    expect(response.destroyed).toBe(true);
    expect(response.written).toHaveLength(1);
    expect(response.listenerCount('drain')).toBe(0);
  });

  it("should hijack a Fastify reply, keep the headers set on it and name its request's id", async () => {
    const raw = new FakeResponse();
    const hijack = jest.fn();
    const reply: FastifyReplyLike = { hijack, raw: asResponse(raw), getHeaders: () => ({ 'x-request-id': 'req-9' }), request: { id: 'req-9' } };

    await sendChatStream(reply, aStream([aChunk('a')], new TypeError('boom')), { 'x-served-model': 'gpt-4o-mini' });

    expect(hijack).toHaveBeenCalledTimes(1);
    expect(raw.headers).toMatchObject({ 'x-request-id': 'req-9', 'x-served-model': 'gpt-4o-mini' });
    expect(raw.written.at(-1)).toContain('Quote request id req-9');
  });
});
