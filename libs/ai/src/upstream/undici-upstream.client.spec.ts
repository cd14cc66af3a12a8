import { getEventListeners, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  UnprocessableEntityError,
} from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { resolveAiOptions } from '../ai-module-options';
import { aChatCompletion, aChatCompletionChunk, aModel, UPSTREAM_REQUEST_ID } from '../../test/factories';
import { Pool, errors as undiciErrors } from 'undici';
import { SecretScrubber } from '../secrets/secret-scrubber';
import { causeCodes, classifyUpstreamError, UnreadableUpstreamResponse } from './classify-upstream-error';
import { jsonOf } from './as-received';
import { UndiciUpstreamClient } from './undici-upstream.client';
import type { UpstreamEndpoint } from './upstream-pool-options';

const { timeouts: TIMEOUTS } = resolveAiOptions({ upstream: { apiKey: 'unused' } });

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

interface Received {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Resolves when the client's side of the connection closed or the request was abandoned. */
  closed: Promise<void>;
}

const API_KEY = 'sk-test-0123456789';
const CHAT = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Hi' }] };

describe(UndiciUpstreamClient.name, () => {
  let server: Server;
  let baseURL: string;
  let client: UndiciUpstreamClient;
  let endpoint: UpstreamEndpoint;
  /** How the server answers the next request. */
  let handle: Handler;
  let received: Received[];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      const closed = once(response, 'close').then(() => undefined);
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        received.push({ method: request.method, url: request.url, headers: request.headers, body, closed });
        handle(request, response, body);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    endpoint = { name: 'openai', kind: 'openai', baseURL, organization: 'org-tollgate' };
    client = new UndiciUpstreamClient(TIMEOUTS);
  });
  beforeEach(() => {
    received = [];
  });
  afterAll(async () => {
    await client.close();
    server.closeAllConnections();
    server.close();
  });

  const call = (signal = new AbortController().signal, upstream = endpoint) => ({ signal, apiKey: API_KEY, upstream });
  const create = (signal?: AbortSignal) => client.createChatCompletion(CHAT, call(signal));
  const openStream = (signal?: AbortSignal) => client.streamChatCompletion({ ...CHAT, stream: true }, call(signal));
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Handler => (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': UPSTREAM_REQUEST_ID, ...headers });
    response.end(JSON.stringify(body));
  };
  const rejectionOf = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error('expected a rejection');
      },
      (error: unknown) => error,
    );

  describe('requests', () => {
    it('should POST the body to /chat/completions with the call’s key, the organization and a JSON content type', async () => {
      handle = json(200, aChatCompletion());

      await create();

      expect(received[0]).toMatchObject({ method: 'POST', url: '/v1/chat/completions' });
      expect(received[0].headers).toMatchObject({
        authorization: `Bearer ${API_KEY}`,
        'content-type': 'application/json',
        'openai-organization': 'org-tollgate',
      });
      expect(JSON.parse(received[0].body)).toEqual(CHAT);
    });

    it('should answer with the completion and the upstream’s x-request-id', async () => {
      handle = json(200, aChatCompletion());

      await expect(create()).resolves.toEqual({ data: aChatCompletion(), requestId: UPSTREAM_REQUEST_ID });
    });

    it('should GET /models and answer with the list', async () => {
      handle = json(200, { object: 'list', data: [aModel('gpt-4o'), aModel('gpt-4o-mini')] });

      const models = await client.listModels(call());

      expect(received[0]).toMatchObject({ method: 'GET', url: '/v1/models' });
      expect(received[0].headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(models).toEqual({ data: [aModel('gpt-4o'), aModel('gpt-4o-mini')], requestId: UPSTREAM_REQUEST_ID });
    });
  });

  describe('Azure OpenAI and the account that answered', () => {
    const azure = (extra: Partial<UpstreamEndpoint> = {}): UpstreamEndpoint => ({ name: 'azure', kind: 'azure', baseURL: baseURL.replace(/\/v1$/, '/openai/v1'), ...extra });

    it("should send the key as api-key to Azure's v1 path, with the deployment as the model", async () => {
      handle = json(200, aChatCompletion());

      await client.createChatCompletion(CHAT, call(undefined, azure({ deployments: { 'gpt-4o': 'my-gpt4o' } })));

      expect(received[0]).toMatchObject({ method: 'POST', url: '/openai/v1/chat/completions' });
      expect(received[0].headers['api-key']).toBe(API_KEY);
      expect(received[0].headers).not.toHaveProperty('authorization');
      expect(JSON.parse(received[0].body)).toEqual({ ...CHAT, model: 'my-gpt4o' });
    });

    it("should put a model's calls under its deployment, with the api-version, on Azure's deployments API", async () => {
      handle = json(200, aChatCompletion());
      const deployments = azure({ baseURL: baseURL.replace(/\/v1$/, '/openai'), deployments: { 'gpt-4o': 'my gpt4o' }, apiVersion: '2024-10-21' });

      await client.createChatCompletion(CHAT, call(undefined, deployments));
      handle = json(200, { object: 'list', data: [] });
      await client.listModels(call(undefined, deployments));

      expect(received.map((request) => request.url)).toEqual(['/openai/deployments/my%20gpt4o/chat/completions?api-version=2024-10-21', '/openai/models?api-version=2024-10-21']);
    });

    it("should take Azure's x-ms-request-id as the upstream's request id", async () => {
      handle = (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json', 'x-ms-request-id': 'ms-req-1' });
        response.end(JSON.stringify(aChatCompletion()));
      };

      await expect(client.createChatCompletion(CHAT, call(undefined, azure()))).resolves.toMatchObject({ requestId: 'ms-req-1' });
    });

    it('should say which organization and project answered, from openai-organization and openai-project', async () => {
      handle = json(200, aChatCompletion(), { 'openai-organization': 'org-abc', 'openai-project': 'proj_123' });

      await expect(create()).resolves.toMatchObject({ account: { organization: 'org-abc', project: 'proj_123' } });
    });
  });

  describe('error answers', () => {
    it.each([
      [400, BadRequestError, { type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' }],
      [401, AuthenticationError, { type: 'invalid_request_error', code: 'invalid_api_key', param: null }],
      [403, PermissionDeniedError, { type: 'invalid_request_error', code: 'unsupported_country_region_territory', param: null }],
      [404, NotFoundError, { type: 'invalid_request_error', code: 'model_not_found', param: 'model' }],
      [409, ConflictError, { type: 'invalid_request_error', code: null, param: null }],
      [422, UnprocessableEntityError, { type: 'invalid_request_error', code: null, param: null }],
      [429, RateLimitError, { type: 'insufficient_quota', code: 'insufficient_quota', param: null }],
      [500, InternalServerError, { type: 'server_error', code: null, param: null }],
      [503, InternalServerError, { type: 'server_error', code: null, param: null }],
      [408, APIError, { type: 'server_error', code: null, param: null }],
    ])('should throw a %i as the SDK’s %p with its status, code, type, param, headers and request id', async (status, errorClass, fields) => {
      const body = { error: { message: `Upstream answered ${status}.`, ...fields } };
      handle = json(status, body, { 'retry-after': '7' });

      const error = (await rejectionOf(create())) as APIError;

      expect(error).toBeInstanceOf(errorClass);
      expect(error).toMatchObject({ status, ...fields, requestID: UPSTREAM_REQUEST_ID, error: body.error });
      expect(error.message).toBe(`${status} Upstream answered ${status}.`);
      expect(error.headers?.get('retry-after')).toBe('7');
    });

    it('should throw an error answer that is not JSON with its text as the message', async () => {
      handle = (_request, response) => {
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end('<html>502 Bad Gateway</html>');
      };

      const error = await rejectionOf(create());

      expect(error).toBeInstanceOf(InternalServerError);
      expect(error).toMatchObject({ status: 502, message: '502 <html>502 Bad Gateway</html>' });
    });

    it('should throw an error answer of a stream before it opens', async () => {
      handle = json(429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } });

      await expect(openStream()).rejects.toBeInstanceOf(RateLimitError);
    });
  });

  describe('unreadable 200s', () => {
    const answer = (contentType: string, body: string): Handler => (_request, response) => {
      response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      response.end(body);
    };

    it.each([
      ['JSON cut half-way', 'application/json', JSON.stringify(aChatCompletion()).slice(0, 40)],
      ['a page that is not JSON', 'text/html', '<html>502 Bad Gateway</html>'],
      ['JSON without choices', 'application/json', '{"id":"chatcmpl-1"}'],
      ['JSON not labelled as JSON', 'text/plain', JSON.stringify(aChatCompletion())],
    ])('should throw UnreadableUpstreamResponse for a 200 with %s', async (_what, contentType, body) => {
      handle = answer(contentType, body);

      await expect(create()).rejects.toBeInstanceOf(UnreadableUpstreamResponse);
    });

    it('should throw UnreadableUpstreamResponse, with the socket error as its cause, when the connection drops mid-body', async () => {
      handle = (request, response) => {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
        response.write('{"id":"chatcmpl-1","choi');
        setTimeout(() => request.socket.destroy(), 20);
      };

      const error = await rejectionOf(create());

      expect(error).toBeInstanceOf(UnreadableUpstreamResponse);
      expect(causeCodes(error)).toContain('UND_ERR_SOCKET');
    });

    it.each([
      ['cut short', '{"object":"list","da'],
      ['without data', '{"object":"list"}'],
    ])('should throw UnreadableUpstreamResponse for a model list %s', async (_what, body) => {
      handle = answer('application/json', body);

      await expect(client.listModels(call())).rejects.toBeInstanceOf(UnreadableUpstreamResponse);
    });
  });

  describe('transport failures', () => {
    it('should throw APIConnectionError caused by ECONNREFUSED when nothing listens', async () => {
      const closedPort = createServer().listen(0, '127.0.0.1');
      await once(closedPort, 'listening');
      const { port } = closedPort.address() as AddressInfo;
      await new Promise((resolve) => closedPort.close(resolve));
      const unreachable = new UndiciUpstreamClient(TIMEOUTS);

      const error = await rejectionOf(unreachable.createChatCompletion(CHAT, call(undefined, { ...endpoint, baseURL: `http://127.0.0.1:${port}/v1` })));
      await unreachable.close();

      expect(error).toBeInstanceOf(APIConnectionError);
      expect(error).not.toBeInstanceOf(APIUserAbortError);
      expect(causeCodes(error)).toContain('ECONNREFUSED');
    });

    it('should throw APIConnectionError caused by ECONNRESET when the upstream resets the connection', async () => {
      handle = (request) => request.socket.resetAndDestroy();

      const error = await rejectionOf(create());

      expect(error).toBeInstanceOf(APIConnectionError);
      expect(causeCodes(error)).toContain('ECONNRESET');
    });

    // The connect limit is kept apart from other timeouts: it says the upstream was never reached, so it is a connect timeout.
    it('should throw a plain APIConnectionError caused by UND_ERR_CONNECT_TIMEOUT when connecting runs out of time', async () => {
      const neverConnects = new Pool('http://127.0.0.1:9', { connect: (_options, callback) => callback(new undiciErrors.ConnectTimeoutError(), null) });
      const client = new UndiciUpstreamClient(TIMEOUTS, neverConnects);

      const error = await rejectionOf(client.createChatCompletion(CHAT, call(undefined, { ...endpoint, baseURL: 'http://127.0.0.1:9/v1' })));
      await client.close();

      expect(error).toBeInstanceOf(APIConnectionError);
      expect(error).not.toBeInstanceOf(APIConnectionTimeoutError);
      expect(causeCodes(error)).toContain('UND_ERR_CONNECT_TIMEOUT');
      expect(classifyUpstreamError(error, 'gpt-4o', Date.now(), new SecretScrubber())).toMatchObject({ code: 'upstream_timeout', timeout: 'connect' });
    });

    it('should throw APIConnectionError caused by UND_ERR_SOCKET when the upstream closes without answering', async () => {
      handle = (request) => request.socket.destroy();

      const error = await rejectionOf(create());

      expect(error).toBeInstanceOf(APIConnectionError);
      expect(causeCodes(error)).toContain('UND_ERR_SOCKET');
    });
  });

  describe('cancellation', () => {
    it('should throw APIUserAbortError, sending nothing, for a signal aborted before the call', async () => {
      handle = json(200, aChatCompletion());

      await expect(create(AbortSignal.abort())).rejects.toBeInstanceOf(APIUserAbortError);
      expect(received).toHaveLength(0);
    });

    it('should throw APIUserAbortError and close the request when the signal aborts before the headers', async () => {
      handle = () => undefined;
      const controller = new AbortController();
      const pending = rejectionOf(create(controller.signal));
      await waitFor(() => received.length === 1);

      controller.abort(new Error('the deadline passed'));

      expect(await pending).toBeInstanceOf(APIUserAbortError);
      await received[0].closed;
    });
  });

  describe('signals', () => {
    it('should stop listening to the signal once each request has ended, so that the attempts of a call can share it', async () => {
      const { signal } = new AbortController();
      const listeners = () => getEventListeners(signal, 'abort').length;

      handle = json(500, { error: { message: 'Upstream answered 500.', type: 'server_error' } });
      await rejectionOf(create(signal));
      await waitFor(() => listeners() === 0);
      handle = json(200, aChatCompletion());
      await create(signal);
      await waitFor(() => listeners() === 0);
      handle = (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.end(`data: ${JSON.stringify(aChatCompletionChunk('Hi'))}\n\ndata: [DONE]\n\n`);
      };
      for await (const _chunk of (await openStream(signal)).data);
      await waitFor(() => listeners() === 0);

      expect(signal.aborted).toBe(false);
    });
  });

  describe('streams', () => {
    const usageChunk = aChatCompletionChunk('', { choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } });
    const chunks = [aChatCompletionChunk('Héllo'), aChatCompletionChunk(' wörld 👋'), usageChunk];
    const events = (...items: (ChatCompletionChunk | string)[]) =>
      items.map((item) => `data: ${typeof item === 'string' ? item : JSON.stringify(item)}\n\n`).join('');
    /** Sends `pieces` as separate TCP writes, each after the client had time to read the one before. */
    const sse = (pieces: (string | Buffer)[], then: 'end' | 'stay-open' = 'end'): Handler => (request, response) => {
      request.socket.setNoDelay(true);
      response.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': UPSTREAM_REQUEST_ID });
      void (async () => {
        for (const piece of pieces) {
          response.write(piece);
          await delay(5);
        }
        if (then === 'end') response.end();
      })();
    };
    const collect = async (stream: AsyncIterable<ChatCompletionChunk>) => {
      const read: ChatCompletionChunk[] = [];
      for await (const chunk of stream) read.push(chunk);
      return read;
    };

    it('should yield every chunk, the usage chunk included, and end at [DONE]', async () => {
      handle = sse([events(...chunks, '[DONE]')]);

      const { data, requestId } = await openStream();

      expect(await collect(data)).toEqual(chunks);
      expect(requestId).toBe(UPSTREAM_REQUEST_ID);
      expect(JSON.parse(received[0].body)).toEqual({ ...CHAT, stream: true });
    });

    it('should parse events split across TCP chunks inside a line, inside a character and between the two newlines', async () => {
      const wire = Buffer.from(events(...chunks, '[DONE]'));
      const firstEnd = wire.indexOf('\n\n');
      const emoji = wire.indexOf(Buffer.from('👋'));
      const cuts = [3, 20, firstEnd + 1, firstEnd + 2, emoji + 1, emoji + 3, wire.length - 3];
      const pieces = [0, ...cuts].map((start, i) => wire.subarray(start, cuts[i] ?? wire.length));
      handle = sse(pieces);

      expect(await collect((await openStream()).data)).toEqual(chunks);
    });

    it('should read CRLF line ends, comments and data split over several lines', async () => {
      const chunk = aChatCompletionChunk('Hi');
      const text = JSON.stringify(chunk);
      const [head, tail] = [text.slice(0, text.indexOf(',') + 1), text.slice(text.indexOf(',') + 1)];
      handle = sse([`: keep-alive\r\n\r\ndata: ${head}\r\ndata:${tail}\r\n\r\ndata: [DONE]\r\n\r\n`]);

      // Two data lines make one data text, joined by a newline: JSON reads through it.
      expect(await collect((await openStream()).data)).toEqual([chunk]);
    });

    it('should keep the text each chunk arrived as, for a relay to send on unchanged', async () => {
      const asSent = JSON.stringify(chunks[0], null, 1).replace(/\n/g, ' ');
      handle = sse([events(asSent, '[DONE]')]);

      const [chunk] = await collect((await openStream()).data);

      expect(chunk).toEqual(chunks[0]);
      expect(jsonOf(chunk)).toBe(asSent);
    });

    it('should yield nothing after [DONE]', async () => {
      handle = sse([events(chunks[0], '[DONE]', chunks[1])]);

      expect(await collect((await openStream()).data)).toEqual([chunks[0]]);
    });

    it('should throw an in-stream error event as the SDK does: an APIError without status, with the request id', async () => {
      const failure = { message: 'The server had an error while processing your request.', type: 'server_error', code: null };
      handle = sse([events(chunks[0]), `data: ${JSON.stringify({ error: failure })}\n\n`]);
      const iterator = (await openStream()).data[Symbol.asyncIterator]();

      expect((await iterator.next()).value).toEqual(chunks[0]);
      const error = await rejectionOf(iterator.next());

      expect(error).toBeInstanceOf(APIError);
      expect(error).not.toBeInstanceOf(APIConnectionError);
      expect(error).toMatchObject({ status: undefined, type: 'server_error', requestID: UPSTREAM_REQUEST_ID, message: failure.message });
    });

    it('should throw APIUserAbortError and close the request when the signal aborts mid-stream', async () => {
      handle = sse([events(chunks[0])], 'stay-open');
      const controller = new AbortController();
      const iterator = (await openStream(controller.signal)).data[Symbol.asyncIterator]();
      expect((await iterator.next()).value).toEqual(chunks[0]);
      const next = rejectionOf(iterator.next());

      controller.abort(new Error('the stream went idle'));

      expect(await next).toBeInstanceOf(APIUserAbortError);
      await received[0].closed;
    });

    it('should close the request when the consumer stops early', async () => {
      handle = sse([events(chunks[0]), events(chunks[1])], 'stay-open');

      for await (const chunk of (await openStream()).data) {
        expect(chunk).toEqual(chunks[0]);
        break;
      }

      await received[0].closed;
    });

    it('should fail the read, not end it, when the connection drops mid-stream', async () => {
      handle = (request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(events(chunks[0]));
        setTimeout(() => request.socket.destroy(), 20);
      };
      const iterator = (await openStream()).data[Symbol.asyncIterator]();
      await iterator.next();

      const error = await rejectionOf(iterator.next());

      expect(error).not.toBeInstanceOf(APIUserAbortError);
      expect(causeCodes(error)).toContain('UND_ERR_SOCKET');
    });

    it('should read from the socket only as fast as the consumer asks', async () => {
      const event = events(aChatCompletionChunk('x'.repeat(16 * 1024)));
      let written = 0;
      handle = (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        // Writes while the client takes them, up to 64 MiB: a client that buffered would take it all.
        void (async () => {
          while (written < 64 * 1024 * 1024 && !response.destroyed) {
            written += event.length;
            if (!response.write(event)) await Promise.race([once(response, 'drain'), once(response, 'close')]);
          }
        })();
      };
      const iterator = (await openStream()).data[Symbol.asyncIterator]();
      await iterator.next();

      await delay(300);

      expect(written).toBeLessThan(16 * 1024 * 1024);
      await iterator.return?.();
    });
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await delay(5);
}
