import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { UpstreamTimeoutError } from '../errors/ai-errors';
import type { GovernedResponseStream } from '../responses/response-request';
import { rememberAsReceived } from '../upstream/as-received';
import { responseEventsOf } from '../../test/factories';
import { sendResponseStream } from './response-stream-sse';

/** A Node response that records what is written. */
class FakeResponse extends EventEmitter {
  status?: number;
  headers: Record<string, unknown> = {};
  written: string[] = [];
  destroyed = false;

  writeHead(status: number, headers: Record<string, unknown>): this {
    this.status = status;
    this.headers = headers;
    return this;
  }

  write(data: string): boolean {
    this.written.push(data);
    return true;
  }

  end(data?: string): this {
    if (data) this.written.push(data);
    return this;
  }
}

function aStream(events: ResponseStreamEvent[], failure?: Error): GovernedResponseStream {
  async function* iterate() {
    yield* events;
    if (failure) throw failure;
  }
  return { model: 'gpt-4o', attempts: 1, upstream: 'openai', rateLimits: {}, cancel: () => undefined, [Symbol.asyncIterator]: iterate };
}

describe(sendResponseStream.name, () => {
  it('should write each event named by its type, its data as the upstream sent it, and nothing after the last', async () => {
    const [created, delta, completed] = responseEventsOf(['Hi']);
    const asSent = rememberAsReceived(delta, '{"type":"response.output_text.delta","sequence_number":1, "delta":"Hi"}');
    const response = new FakeResponse();

    await sendResponseStream(response as unknown as ServerResponse, aStream([created, asSent, completed]), { 'x-tollgate-served-model': 'gpt-4o' });

    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'text/event-stream; charset=utf-8', 'x-tollgate-served-model': 'gpt-4o' });
    expect(response.written).toEqual([
      `event: response.created\ndata: ${JSON.stringify(created)}\n\n`,
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":1, "delta":"Hi"}\n\n',
      `event: response.completed\ndata: ${JSON.stringify(completed)}\n\n`,
    ]);
  });

  it('should end a stream that fails once begun with an error event, numbered after the last event sent', async () => {
    const [created, delta] = responseEventsOf(['Hi']);
    const response = new FakeResponse();

    await sendResponseStream(response as unknown as ServerResponse, aStream([created, delta], new UpstreamTimeoutError('stream_idle')));

    const last = response.written.at(-1)!;
    expect(last.startsWith('event: error\ndata: ')).toBe(true);
    expect(JSON.parse(last.slice('event: error\ndata: '.length))).toEqual({
      type: 'error',
      code: 'upstream_timeout',
      message: expect.stringContaining('silent'),
      param: null,
      sequence_number: 2,
    });
  });
});
