import type { OpenAIErrorBody } from './openai-shapes';
import type { ResponsesRequest } from './responses-request';
import type { CompletionText } from './usage';

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  /** The reasoning tokens among them. */
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** What the model wrote, and everything the response object and its events say about it. */
export interface ResponseReply {
  id: string;
  messageId: string;
  /** Reasoning models put a reasoning item before their message. */
  reasoningId?: string;
  createdAt: number;
  model: string;
  text: CompletionText;
  /** Cut at max_output_tokens. */
  incomplete: boolean;
  usage: ResponseUsage;
  echoed: ResponsesRequest['echoed'];
}

type Status = 'in_progress' | 'completed' | 'incomplete' | 'failed';

/** An event without its sequence_number, which it gets in order when serialised. */
type ResponseEvent = { type: string } & Record<string, unknown>;

export function responseObject(reply: ResponseReply, status: Status, failure?: OpenAIErrorBody) {
  const finished = status === 'completed' || status === 'incomplete';
  return {
    id: reply.id,
    object: 'response',
    created_at: reply.createdAt,
    status,
    background: false,
    completed_at: status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    error: failure ? { code: failure.error.code ?? 'server_error', message: failure.error.message } : null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    ...reply.echoed,
    model: reply.model,
    output: finished ? outputItems(reply) : [],
    service_tier: 'default',
    usage: finished ? reply.usage : null,
  };
}

export const finalResponse = (reply: ResponseReply) => responseObject(reply, reply.incomplete ? 'incomplete' : 'completed');

function outputItems(reply: ResponseReply): object[] {
  const message = messageItem(reply, reply.incomplete ? 'incomplete' : 'completed', [outputText(reply.text.content)]);
  return reply.reasoningId ? [reasoningItem(reply.reasoningId), message] : [message];
}

const reasoningItem = (id: string) => ({ id, type: 'reasoning', summary: [] });
const outputText = (text: string) => ({ type: 'output_text', annotations: [], logprobs: [], text });
const messageItem = (reply: ResponseReply, status: string, content: object[]) => ({
  id: reply.messageId,
  type: 'message',
  status,
  content,
  role: 'assistant',
});

/** The events of a streamed reply in three parts, so that a failure can cut it after some deltas. */
export function responseEvents(reply: ResponseReply): { opening: ResponseEvent[]; deltas: ResponseEvent[]; closing: ResponseEvent[] } {
  const messageIndex = reply.reasoningId ? 1 : 0;
  const inMessage = { item_id: reply.messageId, output_index: messageIndex, content_index: 0 };
  const { text } = reply;
  const message = finalResponse(reply).output[messageIndex];
  const reasoning = reply.reasoningId
    ? [
        { type: 'response.output_item.added', output_index: 0, item: reasoningItem(reply.reasoningId) },
        { type: 'response.output_item.done', output_index: 0, item: reasoningItem(reply.reasoningId) },
      ]
    : [];
  return {
    opening: [
      { type: 'response.created', response: responseObject(reply, 'in_progress') },
      { type: 'response.in_progress', response: responseObject(reply, 'in_progress') },
      ...reasoning,
      { type: 'response.output_item.added', output_index: messageIndex, item: messageItem(reply, 'in_progress', []) },
      { type: 'response.content_part.added', ...inMessage, part: outputText('') },
    ],
    deltas: text.pieces.map((delta) => ({ type: 'response.output_text.delta', ...inMessage, delta, logprobs: [] })),
    closing: [
      { type: 'response.output_text.done', ...inMessage, text: text.content, logprobs: [] },
      { type: 'response.content_part.done', ...inMessage, part: outputText(text.content) },
      { type: 'response.output_item.done', output_index: messageIndex, item: message },
      { type: reply.incomplete ? 'response.incomplete' : 'response.completed', response: finalResponse(reply) },
    ],
  };
}

export function failedEvent(reply: ResponseReply, failure: OpenAIErrorBody): ResponseEvent {
  return { type: 'response.failed', response: responseObject(reply, 'failed', failure) };
}

/** `event: <type>` and `data: <the event>`, numbered in order as OpenAI numbers them. */
export function serialiseEvents(events: readonly ResponseEvent[]): string[] {
  return events.map(({ type, ...fields }, index) => {
    const numbered = { type, sequence_number: index, ...fields };
    return `event: ${type}\ndata: ${JSON.stringify(numbered)}\n\n`;
  });
}
