import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { OpenAiErrorFields } from './openai-http.exception';
import { OpenAiErrorOptions, toOpenAiError } from './openai-error';

/** What a stream relay needs of a Fastify reply; typed here so that the library does not depend on Fastify. */
export interface FastifyReplyLike {
  hijack(): unknown;
  readonly raw: ServerResponse;
  getHeaders(): Record<string, unknown>;
  readonly request: { readonly id: string };
}

export interface StreamRelayOptions extends OpenAiErrorOptions {
  /** A client that stops reading but keeps its socket open is dropped after this, rather than held forever. @default 30_000 */
  drainTimeoutMs?: number;
}

/** How one API writes its stream as server-sent events. */
export interface SseFraming<T> {
  /** One chunk or event, as written. */
  event(chunk: T): string;
  /** What follows the last event of a stream that ended well. */
  end: string;
  /** The last event of a stream that failed once it had begun: the status can no longer say so. */
  failure(error: OpenAiErrorFields, lastSent: T | undefined): string;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/**
 * Relays a stream as server-sent events, framed as `framing` says. A failure before the stream opens is thrown by
 * whoever opened it, for the exception filter to answer with a status. `response` is the Node response: Express's
 * `res`, or on Fastify the reply itself (it is hijacked here, and the headers set on it so far are kept). Awaits
 * 'drain' whenever the client reads slower than the upstream writes, and drops a client that stops reading for
 * `drainTimeoutMs`.
 */
export async function relayServerSentEvents<T>(
  response: ServerResponse | FastifyReplyLike,
  stream: AsyncIterable<T>,
  framing: SseFraming<T>,
  headers: Record<string, string> = {},
  options: StreamRelayOptions = {},
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
  let lastSent: T | undefined;
  try {
    for await (const chunk of stream) {
      if (raw.destroyed) break;
      lastSent = chunk;
      if (!raw.write(framing.event(chunk))) await drained(raw, drainTimeoutMs);
    }
    if (!raw.destroyed) raw.end(framing.end);
  } catch (error) {
    if (!raw.destroyed) raw.end(framing.failure(toOpenAiError(error, errorOptions).body.error, lastSent));
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
