import type { ServerResponse } from 'node:http';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { jsonOf } from '../upstream/as-received';
import type { ChatStream } from '../upstream/chat-stream';
import { FastifyReplyLike, relayServerSentEvents, SseFraming, StreamRelayOptions } from './sse-relay';

export type { FastifyReplyLike } from './sse-relay';
export type ChatStreamRelayOptions = StreamRelayOptions;

/** OpenAI's chat stream: `data: <chunk>` per chunk, `data: [DONE]` at the end; a late failure as `data: {"error": …}` (what OpenAI's SDKs raise). */
const CHAT_FRAMING: SseFraming<ChatCompletionChunk> = {
  event: (chunk) => `data: ${jsonOf(chunk)}\n\n`,
  end: 'data: [DONE]\n\n',
  failure: (error) => `data: ${JSON.stringify({ error })}\n\n`,
};

/**
 * Relays a chat stream (`AiService.chatStream`) as server-sent events, chunk by chunk, the way OpenAI does, each chunk
 * as the upstream sent it. A failure after the first chunk can no longer change the status, so it is sent as a last
 * error event. See relayServerSentEvents for `response` and back-pressure.
 */
export function sendChatStream(
  response: ServerResponse | FastifyReplyLike,
  stream: ChatStream,
  headers: Record<string, string> = {},
  options: ChatStreamRelayOptions = {},
): Promise<void> {
  return relayServerSentEvents(response, stream, CHAT_FRAMING, headers, options);
}
