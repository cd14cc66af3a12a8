import type { ServerResponse } from 'node:http';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import type { GovernedResponseStream } from '../responses/response-request';
import { jsonOf } from '../upstream/as-received';
import { FastifyReplyLike, relayServerSentEvents, SseFraming, StreamRelayOptions } from './sse-relay';

/**
 * The Responses API's stream: each event named by its type, as OpenAI sends it; nothing after the last. A failure
 * once the stream has begun is its `error` event, numbered after the last event sent.
 */
const RESPONSE_FRAMING: SseFraming<ResponseStreamEvent> = {
  event: (event) => `event: ${event.type}\ndata: ${jsonOf(event)}\n\n`,
  end: '',
  failure: ({ code, message, param }, lastSent) => {
    const event = { type: 'error', code, message, param, sequence_number: (lastSent?.sequence_number ?? -1) + 1 };
    return `event: error\ndata: ${JSON.stringify(event)}\n\n`;
  },
};

/**
 * Relays a Responses API stream (`AiService.respondStream`) as server-sent events, each event as the upstream sent
 * it. See relayServerSentEvents for `response` and back-pressure.
 */
export function sendResponseStream(
  response: ServerResponse | FastifyReplyLike,
  stream: GovernedResponseStream,
  headers: Record<string, string> = {},
  options: StreamRelayOptions = {},
): Promise<void> {
  return relayServerSentEvents(response, stream, RESPONSE_FRAMING, headers, options);
}
