import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { jsonOf } from '../upstream/as-received';
import type { ChatStream } from '../upstream/chat-stream';
import { OpenAiErrorOptions, toOpenAiError } from './openai-error';

/** What `sendChatStream` needs of a Fastify reply; typed here so that the library does not depend on Fastify. */
export interface FastifyReplyLike {
  hijack(): unknown;
  readonly raw: ServerResponse;
  getHeaders(): Record<string, unknown>;
  readonly request: { readonly id: string };
}

export interface ChatStreamRelayOptions extends OpenAiErrorOptions {
  /** A client that stops reading but keeps its socket open is dropped after this, rather than held forever. @default 30_000 */
  drainTimeoutMs?: number;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/**
 * Relays a chat stream (`AiService.chatStream`) as server-sent events, chunk by chunk, the way OpenAI
 * does: `data: <chunk>` per chunk (as the upstream sent it), `data: [DONE]` at the end. A failure after the first chunk can no
 * longer change the status, so it is sent as a last `data: {"error": …}` event (what OpenAI's SDKs
 * raise as an error). A failure before the stream opens is thrown by `chatStream` itself, for the
 * exception filter to answer with a status.
 *
 * `response` is the Node response: Express's `res`, or on Fastify the reply itself (it is hijacked
 * here, and the headers set on it so far are kept). Awaits 'drain' whenever the client reads slower
 * than the upstream writes, and drops a client that stops reading for `drainTimeoutMs`.
 */
export async function sendChatStream(
  response: ServerResponse | FastifyReplyLike,
  stream: ChatStream,
  headers: Record<string, string> = {},
  options: ChatStreamRelayOptions = {},
): Promise<void> {
  const raw = isFastifyReply(response) ? hijacked(response) : response;
  const earlier = isFastifyReply(response) ? (response.getHeaders() as OutgoingHttpHeaders) : {};
  const errorOptions = { requestId: isFastifyReply(response) ? response.request.id : undefined, ...options };
  raw.writeHead(200, {
    ...earlier,
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    // nginx would otherwise buffer the stream and deliver it in one piece.
    'x-accel-buffering': 'no',
  });
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  try {
    for await (const chunk of stream) {
      if (raw.destroyed) break;
      if (!raw.write(`data: ${jsonOf(chunk)}\n\n`)) await drained(raw, drainTimeoutMs);
    }
    if (!raw.destroyed) raw.end('data: [DONE]\n\n');
  } catch (error) {
    if (!raw.destroyed) raw.end(`data: ${JSON.stringify(toOpenAiError(error, errorOptions).body)}\n\n`);
  }
}

function isFastifyReply(response: ServerResponse | FastifyReplyLike): response is FastifyReplyLike {
  return typeof (response as Partial<FastifyReplyLike>).hijack === 'function';
}

function hijacked(reply: FastifyReplyLike): ServerResponse {
  // Fastify must neither send its own answer after the handler nor touch the stream.
  reply.hijack();
  return reply.raw;
}

function drained(raw: ServerResponse, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => raw.destroy(), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      raw.off('drain', done);
      raw.off('close', done);
      resolve();
    };
    raw.once('drain', done);
    raw.once('close', done);
  });
}
