import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveAiOptions } from '../ai-module-options';
import { aChatCompletion } from '../../test/factories';
import { UnreadableUpstreamResponse } from './classify-upstream-error';
import { OpenAiUpstreamClient } from './openai-upstream.client';

describe(OpenAiUpstreamClient.name, () => {
  let server: Server;
  let client: OpenAiUpstreamClient;
  /** What the next call gets: a content type and a body, always with a 200. */
  let answer: { contentType: string; body: string };

  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': answer.contentType, 'content-length': Buffer.byteLength(answer.body) });
      response.end(answer.body);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    client = new OpenAiUpstreamClient(resolveAiOptions({ upstream: { apiKey: 'unused', baseURL: `http://127.0.0.1:${port}/v1` } }));
  });
  afterAll(async () => {
    await client.close();
    server.close();
  });

  const create = (signal = new AbortController().signal) =>
    client.createChatCompletion({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }, { signal, apiKey: 'sk-test-0123456789' });

  it('should answer with the completion of a readable 200', async () => {
    answer = { contentType: 'application/json', body: JSON.stringify(aChatCompletion()) };

    expect((await create()).data.choices).toHaveLength(1);
  });

  it.each([
    ['JSON cut half-way', 'application/json', JSON.stringify(aChatCompletion()).slice(0, 40)],
    ['a page that is not JSON', 'text/html', '<html>502 Bad Gateway</html>'],
    ['JSON without choices', 'application/json', '{"id":"chatcmpl-1"}'],
  ])('should throw UnreadableUpstreamResponse for a 200 with %s', async (_what, contentType, body) => {
    answer = { contentType, body };

    await expect(create()).rejects.toBeInstanceOf(UnreadableUpstreamResponse);
  });

  it('should throw UnreadableUpstreamResponse for a model list that is no list', async () => {
    answer = { contentType: 'application/json', body: '{"object":"list","da' };

    await expect(client.listModels({ signal: new AbortController().signal, apiKey: 'sk-test-0123456789' })).rejects.toBeInstanceOf(
      UnreadableUpstreamResponse,
    );
  });
});
