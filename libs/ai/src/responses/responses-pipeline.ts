import { Inject, Injectable } from '@nestjs/common';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { TimeoutOptions } from '../ai-module-options';
import { FALLBACK_MODELS, TIMEOUT_OPTIONS } from '../ai-option-slices';
import { Admission, Admissions, CallEnd, MeteredCall } from '../chat/admissions';
import {
  admissionContextOf,
  callContextOf,
  EndpointContext,
  governedStream,
  outcomeOf,
  ResolvedCall,
  resolveCall,
  settledOnFailure,
} from '../chat/call-steps';
import { ModelRegistry } from '../context/model-registry';
import { TokenCounter } from '../context/token-counter';
import { primeStream, relayEvents, StreamEnd, StreamReading } from '../upstream/chat-stream';
import { CallOutcome, ResilientUpstream } from '../upstream/resilient-upstream';
import { InjectUpstreamClient, UpstreamClient } from '../upstream/upstream-client';
import { billedResponseUsage, meteredResponse } from './metered-response';
import { GovernedResponseStream, ResponseFinalEvent, ResponseRequest, ResponseResult, ResponseStreamRequest } from './response-request';

/** The outcome in the ledger and the metrics of a response the upstream answered as failed: a 200 that is not a success. */
export const RESPONSE_FAILED_OUTCOME = 'response_failed';

const FINAL_EVENTS = new Set<string>(['response.completed', 'response.incomplete', 'response.failed', 'error']);

/** A Responses API stream: every event goes to the consumer; its text deltas are what a broken stream is billed for. */
const RESPONSE_READING: StreamReading<ResponseStreamEvent, ResponseFinalEvent> = {
  relays: () => true,
  textOf: textDeltaOf,
  usageOf: (event) => (FINAL_EVENTS.has(event.type) ? (event as ResponseFinalEvent) : undefined),
};

/** The text an event adds: the deltas of output text, refusals, reasoning and tool arguments (audio deltas are audio). */
function textDeltaOf(event: ResponseStreamEvent): string {
  if (!event.type.endsWith('.delta') || event.type === 'response.audio.delta') return '';
  const { delta } = event as { delta?: unknown };
  return typeof delta === 'string' ? delta : '';
}

interface PreparedResponse extends ResolvedCall {
  metered: MeteredCall;
}

/**
 * A Responses API call on ChatPipeline's path: resolve the tenant → admit (limits and a reservation of its input and
 * `max_output_tokens`, or the model's largest completion) → call the upstream → settle with the usage of the response,
 * or of the stream's last event.
 */
@Injectable()
export class ResponsesPipeline {
  constructor(
    private readonly upstream: ResilientUpstream,
    private readonly admissions: Admissions,
    private readonly tokens: TokenCounter,
    private readonly registry: ModelRegistry,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    @Inject(TIMEOUT_OPTIONS) private readonly timeouts: TimeoutOptions,
    @Inject(FALLBACK_MODELS) private readonly fallbackModels: Record<string, string[]>,
  ) {}

  async respond(request: ResponseRequest, context: EndpointContext): Promise<ResponseResult> {
    const call = await this.prepare(request, context);
    const admission = await this.admit(call, context, false);
    return settledOnFailure(admission, async () => {
      const outcome = await this.upstream.call(request.model, callContextOf(call, context), (model, control) =>
        this.client.createResponse({ ...request, model, stream: false }, control),
      );
      const { value: response, model, attempts, upstreamRequestId, upstream } = outcome;
      admission.finish({
        outcome: response.status === 'failed' ? RESPONSE_FAILED_OUTCOME : 'success',
        attempts,
        modelServed: model,
        usage: billedResponseUsage(response.usage),
        upstreamRequestId,
        upstream,
        completion: outputTextOf(response),
      });
      return { response, model, attempts, upstreamRequestId, upstream, rateLimits: admission.rateLimits };
    });
  }

  /** Resolves once the first event has arrived, so that a failure before it is an ordinary error. */
  async respondStream(request: ResponseStreamRequest, context: EndpointContext): Promise<GovernedResponseStream> {
    const call = await this.prepare(request, context);
    const admission = await this.admit(call, context, true);
    return settledOnFailure(admission, async () => {
      const outcome = await this.upstream.call(request.model, callContextOf(call, context), async (model, control) => {
        const opened = await this.client.streamResponse({ ...request, model, stream: true }, control);
        return { ...opened, data: await primeStream(opened.data, control) };
      });
      const events = relayEvents(outcome.value, {
        idleMs: this.timeouts.streamIdleMs,
        callerSignal: context.signal,
        reading: RESPONSE_READING,
        onEnd: (end) => admission.finish(this.streamEnd(end, outcome, admission)),
      });
      return governedStream(outcome, admission, events);
    });
  }

  private async prepare(request: ResponseRequest, context: EndpointContext): Promise<PreparedResponse> {
    const call = await resolveCall(request.model, context, { admissions: this.admissions, registry: this.registry, fallbackModels: this.fallbackModels });
    this.registry.assertCompletionLimit({ model: request.model, max_output_tokens: request.max_output_tokens });
    const largestPrompt = Math.max(...call.servingModels.map((model) => this.registry.largestPrompt(model)));
    const encoding = this.registry.encodingOf(request.model);
    return { ...call, metered: meteredResponse(request, (text) => this.tokens.countText(text, encoding), largestPrompt) };
  }

  private admit(call: PreparedResponse, context: EndpointContext, stream: boolean): Promise<Admission> {
    return this.admissions.admitCall(call.metered, admissionContextOf(call, context, stream, call.metered.promptTokens));
  }

  /**
   * How a stream ended: by its last event (`response.failed` and `error` are failures, though the status was 200), or
   * broken. Billed by the last event's usage; without one, by the prompt as reserved and the text relayed.
   */
  private streamEnd(end: StreamEnd<ResponseFinalEvent>, outcome: CallOutcome<unknown>, admission: Admission): CallEnd {
    const final = end.usage;
    const usage = billedResponseUsage(final && 'response' in final ? final.response.usage : undefined) ?? {
      promptTokens: admission.estimate.promptTokens,
      completionTokens: this.tokens.countText(end.text),
    };
    return {
      outcome: streamOutcome(end),
      attempts: outcome.attempts,
      modelServed: outcome.model,
      usage,
      upstreamRequestId: outcome.upstreamRequestId,
      upstream: outcome.upstream,
      completion: end.text,
    };
  }
}

function streamOutcome({ error, usage: final }: StreamEnd<ResponseFinalEvent>): string {
  if (error !== undefined) return outcomeOf(error);
  if (final === undefined) return 'upstream_unavailable';
  return final.type === 'response.failed' || final.type === 'error' ? RESPONSE_FAILED_OUTCOME : 'success';
}

/** The text of the response's messages, for a tenant whose content may be logged. */
function outputTextOf(response: Response): string {
  let text = '';
  for (const item of response.output ?? []) {
    if (item.type !== 'message') continue;
    for (const part of item.content) text += part.type === 'output_text' ? part.text : part.refusal;
  }
  return text;
}
