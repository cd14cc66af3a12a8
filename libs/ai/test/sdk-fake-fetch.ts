import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { UpstreamResponse } from '../src/upstream/upstream-client';
import { UPSTREAM_REQUEST_ID } from './factories';

type Fetch = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

function sdkOver(fetch: Fetch): OpenAI {
  return new OpenAI({ apiKey: 'sk-test', baseURL: 'http://upstream.test/v1', maxRetries: 0, fetch });
}

/**
 * Opens a chat completion stream through the real `openai` SDK, over a fetch that sends
 * `chunks` as SSE and then stays silent; aborting the request errors the body with an
 * AbortError, as undici's fetch does: a stream that ends quietly when aborted, as the SDK's does.
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
