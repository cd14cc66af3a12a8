import { modelAndFault, readRequestBody, recordRequest, serveWithFault, type ApiContext } from './api-context';
import type { StreamPlan } from './chat-completions';
import type { Exchange } from './exchange';
import { firstHalfOf } from './http-io';
import { parseResponsesRequest, type ResponsesRequest } from './responses-request';
import { failedEvent, finalResponse, responseEvents, responseObject, serialiseEvents, type ResponseReply } from './responses-shapes';
import { cachedTokensOf, completionText, countPromptTokens, isReasoningModel, reasoningTokensOf, type ReplyConfig } from './usage';

/** POST /v1/responses. A failure after acceptance is a 200 of status 'failed', streamed or not. */
export async function serveResponse(ctx: ApiContext): Promise<void> {
  const { ex, state } = ctx;
  const request = parseResponsesRequest(await readRequestBody(ctx));
  recordRequest(ctx, request);
  const { model, fault } = modelAndFault(ctx, request.model);

  await serveWithFault(ctx, fault, { model, stream: request.stream, reportsFailureInBody: true }, async (outcome) => {
    const reply = buildResponseReply(request, model, ex.call.seq, state.config);
    const { errorEvent, truncated } = outcome;
    if (!request.stream) {
      const json = JSON.stringify(errorEvent ? responseObject(reply, 'failed', errorEvent) : finalResponse(reply));
      return ex.sendJson(200, truncated ? firstHalfOf(json) : json);
    }
    const intervalMs = outcome.chunkIntervalMs ?? state.config.chunkIntervalMs;
    await streamResponse(ex, reply, { intervalMs, failAfterChunks: outcome.failAfterChunks, errorEvent, truncated });
  });
}

/**
 * `completionWords` words, cut at max_output_tokens with status 'incomplete'. A reasoning model spends part of
 * max_output_tokens reasoning and writes within what is left.
 */
function buildResponseReply(request: ResponsesRequest, model: string, seq: number, config: ReplyConfig): ResponseReply {
  const reasoningTokens = reasoningTokensOf(model, request.maxOutputTokens);
  const budget = request.maxOutputTokens === undefined ? Infinity : request.maxOutputTokens - reasoningTokens;
  const incomplete = budget < config.completionWords;
  const text = completionText(incomplete ? budget : config.completionWords);
  const inputTokens = countPromptTokens(request.messages);
  const outputTokens = text.tokens + reasoningTokens;
  return {
    id: `resp_sim_${seq}`,
    messageId: `msg_sim_${seq}`,
    reasoningId: isReasoningModel(model) ? `rs_sim_${seq}` : undefined,
    createdAt: Math.floor(Date.now() / 1000),
    model,
    text,
    incomplete,
    echoed: request.echoed,
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: cachedTokensOf(inputTokens, config.cachedPromptTokens) },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: reasoningTokens },
      total_tokens: inputTokens + outputTokens,
    },
  };
}

/** On the Responses API a chunk is a text delta: `failAfterChunks` cuts after that many, then fails or drops. */
async function streamResponse(ex: Exchange, reply: ResponseReply, plan: StreamPlan): Promise<void> {
  const { opening, deltas, closing } = responseEvents(reply);
  ex.startStream();
  if (plan.truncated) return ex.end(firstHalfOf(serialiseEvents([...opening, ...deltas, ...closing]).join('')));
  const cut = plan.failAfterChunks ?? deltas.length;
  const sent = [...opening, ...deltas.slice(0, cut)];
  if (plan.errorEvent) sent.push(failedEvent(reply, plan.errorEvent));
  else if (cut >= deltas.length) sent.push(...closing);
  await ex.sendEvents(serialiseEvents(sent), plan.intervalMs, plan.errorEvent !== undefined || cut >= deltas.length);
}
