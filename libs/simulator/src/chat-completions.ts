import { modelAndFault, readRequestBody, recordRequest, serveWithFault, type ApiContext } from './api-context';
import { writeChoices } from './chat-answer';
import { parseChatRequest, type ChatRequest } from './chat-request';
import type { Exchange } from './exchange';
import { firstHalfOf } from './http-io';
import { chatCompletion, chatCompletionEvents, chatUsage, type OpenAIErrorBody, type Reply } from './openai-shapes';
import { cachedTokensOf, countPromptTokens, reasoningTokensOf, type ReplyConfig } from './usage';

export interface StreamPlan {
  intervalMs: number;
  /** Drop the connection after this many chunks, on the Responses API text deltas (or, with `errorEvent`, send it and end). */
  failAfterChunks?: number;
  errorEvent?: OpenAIErrorBody;
  /** Send the first half of the events' bytes, then end the response as if it were complete. */
  truncated?: boolean;
}

export async function serveChatCompletion(ctx: ApiContext): Promise<void> {
  const { ex, state } = ctx;
  const request = parseChatRequest(await readRequestBody(ctx));
  recordRequest(ctx, request);
  const { model, fault } = modelAndFault(ctx, request.model);

  await serveWithFault(ctx, fault, { model, stream: request.stream }, async (outcome) => {
    const reply = buildReply(request, model, ex.call.seq, state.config);
    if (!request.stream) return sendCompletion(ex, reply, outcome.truncated);
    const intervalMs = outcome.chunkIntervalMs ?? state.config.chunkIntervalMs;
    const { failAfterChunks, errorEvent, truncated } = outcome;
    await streamCompletion(ex, reply, request.includeUsage, { intervalMs, failAfterChunks, errorEvent, truncated });
  });
}

/**
 * The reply: `n` choices of a tool call, JSON or `completionWords` words (see writeChoices), each cut at the
 * request's max tokens with finish_reason 'length'; usage counts the completion tokens of every choice.
 * A reasoning model spends part of the max tokens reasoning on each choice, and writes within what is left.
 */
export function buildReply(request: ChatRequest, model: string, seq: number, config: ReplyConfig): Reply {
  const reasoningPerChoice = reasoningTokensOf(model, request.maxTokens);
  const maxTokens = request.maxTokens === undefined ? undefined : request.maxTokens - reasoningPerChoice;
  const choices = writeChoices({ ...request, maxTokens }, seq, config.completionWords);
  const promptTokens = countPromptTokens(request.messages);
  const reasoningTokens = reasoningPerChoice * choices.length;
  const completionTokens = choices.reduce((total, choice) => total + choice.tokens, reasoningTokens);
  return {
    id: `chatcmpl-sim-${seq}`,
    created: Math.floor(Date.now() / 1000),
    model,
    choices,
    usage: chatUsage(promptTokens, completionTokens, cachedTokensOf(promptTokens, config.cachedPromptTokens), reasoningTokens),
  };
}

export function sendCompletion(ex: Exchange, reply: Reply, truncated = false): void {
  const json = JSON.stringify(chatCompletion(reply));
  ex.sendJson(200, truncated ? firstHalfOf(json) : json);
}

/** Streams the reply event by event, `intervalMs` apart. */
export async function streamCompletion(ex: Exchange, reply: Reply, includeUsage: boolean, plan: StreamPlan): Promise<void> {
  const events = chatCompletionEvents(reply, includeUsage);
  ex.startStream();
  if (plan.truncated) return ex.end(firstHalfOf(events.join('')));
  const cut = Math.min(plan.failAfterChunks ?? events.length, events.length);
  const sent = events.slice(0, cut);
  if (plan.errorEvent) sent.push(`data: ${JSON.stringify(plan.errorEvent)}\n\n`);
  // An in-stream error ends the response cleanly; a cut without one drops the connection.
  await ex.sendEvents(sent, plan.intervalMs, plan.errorEvent !== undefined || cut === events.length);
}
