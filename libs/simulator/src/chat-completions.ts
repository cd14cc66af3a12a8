import { writeChoices } from './chat-answer';
import type { ChatRequest } from './chat-request';
import type { Exchange } from './exchange';
import { chatCompletion, chatCompletionEvents, type OpenAIErrorBody, type Reply } from './openai-shapes';
import { countPromptTokens } from './usage';

export interface StreamPlan {
  intervalMs: number;
  /** Drop the connection after this many events (or, with `errorEvent`, send it and end). */
  failAfterChunks?: number;
  errorEvent?: OpenAIErrorBody;
  /** Send the first half of the events' bytes, then end the response as if it were complete. */
  truncated?: boolean;
}

/**
 * The reply: `n` choices of a tool call, JSON or `completionWords` words (see writeChoices), each cut at the
 * request's max tokens with finish_reason 'length'; usage counts the completion tokens of every choice.
 */
export function buildReply(request: ChatRequest, model: string, seq: number, completionWords: number): Reply {
  const choices = writeChoices(request, seq, completionWords);
  const promptTokens = countPromptTokens(request.messages);
  const completionTokens = choices.reduce((total, choice) => total + choice.tokens, 0);
  return {
    id: `chatcmpl-sim-${seq}`,
    created: Math.floor(Date.now() / 1000),
    model,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

export function sendCompletion(ex: Exchange, reply: Reply, truncated = false): void {
  const json = JSON.stringify(chatCompletion(reply));
  ex.sendJson(200, truncated ? firstHalfOf(json) : json);
}

/** A body cut half-way, sent with its own (correct) length: the HTTP exchange is complete, the JSON is not. */
export function firstHalfOf(text: string): string {
  return text.slice(0, Math.floor(text.length / 2));
}

/** Streams the reply event by event, `intervalMs` apart, each written (and so flushed) on its own. */
export async function streamCompletion(ex: Exchange, reply: Reply, includeUsage: boolean, plan: StreamPlan): Promise<void> {
  const events = chatCompletionEvents(reply, includeUsage);
  ex.startStream();
  if (plan.truncated) return ex.end(firstHalfOf(events.join('')));
  const cut = Math.min(plan.failAfterChunks ?? events.length, events.length);
  const sent = events.slice(0, cut);
  if (plan.errorEvent) sent.push(`data: ${JSON.stringify(plan.errorEvent)}\n\n`);
  // An in-stream error ends the response cleanly; a cut without one drops the connection.
  const complete = plan.errorEvent !== undefined || cut === events.length;
  const finish = (data: string) => (complete ? ex.end(data) : ex.writeThenDrop(data));
  if (plan.intervalMs === 0 || sent.length === 0) return finish(sent.join(''));
  for (let i = 0; i < sent.length - 1; i++) {
    ex.write(sent[i]);
    await ex.delay(plan.intervalMs);
  }
  finish(sent[sent.length - 1]);
}
