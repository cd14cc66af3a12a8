import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { errors as undiciErrors } from 'undici';
import { keepingConnectTimeouts } from '../src/upstream/openai-upstream.client';
import { UpstreamResponse } from '../src/upstream/upstream-client';
import { UPSTREAM_REQUEST_ID } from './factories';

type Fetch = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

function sdkOver(fetch: Fetch): OpenAI {
  return new OpenAI({ apiKey: 'sk-test', baseURL: 'http://upstream.test/v1', maxRetries: 0, fetch });
}

/**
 * Opens a chat completion stream through the real `openai` SDK, over a fetch that sends
 * `chunks` as SSE and then stays silent; aborting the request errors the body with an
 * AbortError, as undici's fetch does. The SDK's stream is what the production client returns.
 */
export async function openStreamThroughSdk(
  chunks: ChatCompletionChunk[],
  signal: AbortSignal,
): Promise<UpstreamResponse<AsyncIterable<ChatCompletionChunk>>> {
  const fetch: Fetch = async (_url, init) => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        chunks.forEach((chunk) => controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`)));
        const requestSignal = init?.signal;
        requestSignal?.addEventListener('abort', () => controller.error(new DOMException('This operation was aborted', 'AbortError')), {
          once: true,
        });
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', 'x-request-id': UPSTREAM_REQUEST_ID } });
  };
  const { data, request_id } = await sdkOver(fetch)
    .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true }, { signal })
    .withResponse();
  return { data, requestId: request_id ?? undefined };
}

/**
 * What the SDK throws when undici's connect timeout fires (`connect: { timeout }` on the Agent),
 * through the fetch wrapper the production client installs.
 */
export async function sdkErrorOnConnectTimeout(): Promise<unknown> {
  const fetch: Fetch = async () => {
    throw new TypeError('fetch failed', { cause: new undiciErrors.ConnectTimeoutError() });
  };
  return sdkOver(keepingConnectTimeouts(fetch as typeof globalThis.fetch))
    .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
}
