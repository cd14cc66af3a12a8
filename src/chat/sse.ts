import { ChatStream } from '@tollgate/ai';
import { FastifyReply } from 'fastify';
import { ServerResponse } from 'node:http';
import { toOpenAiError } from '../http/openai-error';

/**
 * Relays a chat stream as server-sent events, chunk by chunk, the way OpenAI does: `data: <chunk>`
 * per chunk, `data: [DONE]` at the end. A failure after the first chunk can no longer change the
 * status, so it is sent as a last `data: {"error": …}` event (what OpenAI's SDKs read as an error).
 */
export async function sendChatStream(reply: FastifyReply, stream: ChatStream, headers: Record<string, string>): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  try {
    for await (const chunk of stream) {
      if (raw.destroyed) break;
      if (!raw.write(`data: ${JSON.stringify(chunk)}\n\n`)) await drained(raw);
    }
    if (!raw.destroyed) raw.end('data: [DONE]\n\n');
  } catch (error) {
    if (!raw.destroyed) raw.end(`data: ${JSON.stringify(toOpenAiError(error, reply.request.id).body)}\n\n`);
  }
}

/** A client that stops reading but keeps its socket open is dropped after this, rather than held forever. */
const DRAIN_TIMEOUT_MS = 30_000;

function drained(raw: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => raw.destroy(), DRAIN_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    raw.once('drain', done);
    raw.once('close', done);
  });
}
