import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { TimeoutOptions } from '../ai-module-options';
import { FALLBACK_MODELS, SUMMARY_MODEL, TIMEOUT_OPTIONS } from '../ai-option-slices';
import { ContextFitter, ContextOutcome } from '../context/context-fitter';
import { ModelRegistry } from '../context/model-registry';
import { TokenCounter } from '../context/token-counter';
import { Admission, Admissions, CallEnd, capCompletion, DEFAULT_TENANT_ID } from './admissions';
import { admissionContextOf, billedUsage, callContextOf, governedStream, outcomeOf, settledOnFailure } from './call-steps';
import { ActiveTenant } from '../tenancy/tenant-limits';
import { primeStream, relayStream, StreamEnd } from '../upstream/chat-stream';
import { CallContext, CallOutcome, fallbackChainOf, ResilientUpstream } from '../upstream/resilient-upstream';
import { InjectUpstreamClient, UpstreamClient } from '../upstream/upstream-client';
import { UpstreamEndpoint } from '../upstream/upstream-pool-options';
import { ChatContext, ChatRequest, ChatResult, ChatStreamRequest, ContextReport, GovernedChatStream } from './chat-request';

const SUMMARY_INSTRUCTIONS =
  'Summarize the conversation below for the assistant that continues it: keep facts, decisions, names, numbers and open questions; ' +
  'leave out pleasantries. Answer with the summary only.';
const SUMMARY_MAX_TOKENS = 400;

/** A request made ready for the upstream: who it is for, fitted to its window, and what it may be served by. */
interface PreparedCall<T extends ChatRequest> {
  tenant: ActiveTenant;
  request: T;
  report: ContextReport;
  completionAllowance?: number;
  /** The requested model, then its fallbacks: reserved as the dearest, tried in this order. */
  servingModels: string[];
  requestId: string;
}

/**
 * The one ordered path of a chat call, for AiService and the job runner alike: resolve the tenant →
 * fit the context → admit (limits and reservation) → call the upstream → settle. Each concern is
 * worked out once, here, and handed on: the fallback chain, the completion allowance, the model checks.
 */
@Injectable()
export class ChatPipeline {
  private readonly logger = new Logger(ChatPipeline.name);

  constructor(
    private readonly upstream: ResilientUpstream,
    private readonly admissions: Admissions,
    private readonly tokens: TokenCounter,
    private readonly registry: ModelRegistry,
    private readonly fitter: ContextFitter,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    @Inject(TIMEOUT_OPTIONS) private readonly timeouts: TimeoutOptions,
    @Inject(FALLBACK_MODELS) private readonly fallbackModels: Record<string, string[]>,
    @Inject(SUMMARY_MODEL) private readonly summaryModel: string,
  ) {}

  async chat(original: ChatRequest, context: ChatContext): Promise<ChatResult> {
    const call = await this.prepare(original, context);
    const admission = await this.admit(call, context, false);
    return settledOnFailure(admission, async () => {
      const outcome = await this.upstream.call(call.request.model, this.callContext(call, context), (model, control) =>
        this.client.createChatCompletion({ ...requestFor(control.upstream, call), model, stream: false }, control),
      );
      const { value: completion, model, attempts, upstreamRequestId, upstream } = outcome;
      const text = completion.choices[0]?.message.content ?? null;
      admission.finish({ outcome: 'success', attempts, modelServed: model, usage: billedUsage(completion.usage), upstreamRequestId, upstream, completion: text });
      return {
        completion,
        model,
        attempts,
        upstreamRequestId,
        upstream,
        rateLimits: admission.rateLimits,
        context: call.report,
        completionAllowance: call.completionAllowance,
      };
    });
  }

  /** Resolves once the first chunk has arrived, so that a failure before it is an ordinary error. */
  async chatStream(original: ChatStreamRequest, context: ChatContext): Promise<GovernedChatStream> {
    const call = await this.prepare(original, context);
    const admission = await this.admit(call, context, true);
    return settledOnFailure(admission, async () => {
      const outcome = await this.upstream.call(call.request.model, this.callContext(call, context), async (model, control) => {
        const body = { ...requestFor(control.upstream, call), model, stream: true as const, stream_options: streamOptionsFor(control.upstream, original) };
        const opened = await this.client.streamChatCompletion(body, control);
        return { ...opened, data: await primeStream(opened.data, control) };
      });
      const chunks = relayStream(outcome.value, {
        idleMs: this.timeouts.streamIdleMs,
        callerSignal: context.signal,
        forwardUsage: original.stream_options?.include_usage === true,
        onEnd: (end) => admission.finish(this.streamEnd(end, outcome, admission, call)),
      });
      return { ...governedStream(outcome, admission, chunks), context: call.report, completionAllowance: call.completionAllowance };
    });
  }

  /**
   * The tenant, then the model checks (known, or passed through by the plan; a completion limit within
   * what it can write), then the prompt fitted by the tenant's policy and the plan's default allowance.
   */
  private async prepare<T extends ChatRequest>(original: T, context: ChatContext): Promise<PreparedCall<T>> {
    const tenant = await this.admissions.tenant(context.tenantId ?? DEFAULT_TENANT_ID);
    const { limits } = tenant;
    this.registry.assertCallable(original.model, limits.allowUnknownModels);
    this.registry.assertCompletionLimit(original);
    const policy = context.contextPolicy ?? limits.contextPolicy;
    const fitted = await this.fitter.fit(original, limits, policy, (messages) => this.summarize(messages, context));
    if (fitted.action !== 'none') this.logContextAction(fitted, tenant.id, context);
    const { request: fittedRequest, ...report } = fitted as ContextOutcome & { request: T };
    const request = capCompletion(fittedRequest, limits, this.registry.largestCompletion(fittedRequest.model, report.promptTokens));
    const completionAllowance = request === fittedRequest ? undefined : (request.max_completion_tokens ?? undefined);
    const fallbacks = fallbackChainOf(limits.fallbackModels ?? this.fallbackModels, request.model);
    return { tenant, request, report, completionAllowance, servingModels: [request.model, ...fallbacks], requestId: context.requestId ?? randomUUID() };
  }

  private admit(call: PreparedCall<ChatRequest>, context: ChatContext, stream: boolean): Promise<Admission> {
    return this.admissions.admit(call.request, admissionContextOf(call, context, stream, call.report.promptTokens));
  }

  private callContext(call: PreparedCall<ChatRequest>, context: ChatContext): CallContext {
    return callContextOf(call, context);
  }

  private logContextAction(fitted: ContextOutcome, tenantId: string, context: ChatContext): void {
    this.logger.log(
      `context ${fitted.action} for tenant ${tenantId} request ${context.requestId ?? '-'}: ` +
        `${fitted.removedMessages} messages, ${fitted.promptTokens} prompt tokens, model ${fitted.request.model}`,
    );
  }

  /** The summary is an ordinary call for the same tenant: limited, counted and in the ledger like any other. */
  private async summarize(messages: ChatCompletionMessageParam[], context: ChatContext): Promise<string> {
    const transcript = messages.map((message) => `${message.role}: ${JSON.stringify(message.content ?? '')}`).join('\n');
    const { completion } = await this.chat(
      {
        model: this.summaryModel,
        messages: [
          { role: 'system', content: SUMMARY_INSTRUCTIONS },
          { role: 'user', content: transcript },
        ],
        max_tokens: SUMMARY_MAX_TOKENS,
      },
      { ...context, requestId: `${context.requestId ?? randomUUID()}:summary`, contextPolicy: 'reject', requestAlreadyCounted: false },
    );
    return completion.choices[0]?.message.content ?? '';
  }

  /**
   * The prompt as reserved — its text and each media part at the most it can bill — with the text counted
   * exactly where only its bound was reserved (a long prompt of a tenant without token limits).
   */
  private reservedPrompt(admission: Admission, call: PreparedCall<ChatRequest>): number {
    const reserved = admission.estimate.promptTokens;
    if (call.report.promptCount === 'exact') return reserved;
    return reserved - call.report.promptTokens + this.tokens.countPrompt(call.request, this.registry.encodingOf(call.request.model));
  }

  /** A stream that broke before its usage chunk is billed its reserved prompt and what it relayed. */
  private streamEnd(end: StreamEnd, outcome: CallOutcome<unknown>, admission: Admission, call: PreparedCall<ChatRequest>): CallEnd {
    const usage = billedUsage(end.usage) ?? { promptTokens: this.reservedPrompt(admission, call), completionTokens: this.tokens.countText(end.text) };
    return {
      outcome: end.error === undefined ? 'success' : outcomeOf(end.error),
      attempts: outcome.attempts,
      modelServed: outcome.model,
      usage,
      upstreamRequestId: outcome.upstreamRequestId,
      upstream: outcome.upstream,
      completion: end.text,
    };
  }
}

/**
 * The request as the upstream takes it. A compatible host may not know `max_completion_tokens`: the allowance
 * Tollgate set on a request that named no limit goes to it as `max_tokens`.
 */
function requestFor(upstream: UpstreamEndpoint, call: PreparedCall<ChatRequest>): ChatRequest {
  if (upstream.kind !== 'openai-compatible' || call.completionAllowance === undefined) return call.request;
  const { max_completion_tokens, ...request } = call.request;
  return { ...request, max_tokens: max_completion_tokens };
}

/**
 * OpenAI and Azure are always asked for the usage chunk: settlement needs the real usage, whether or not the tenant
 * wants to see it. A compatible host is sent only what the tenant asked for; without usage, a stream is billed by
 * its prompt and the text relayed.
 */
function streamOptionsFor(upstream: UpstreamEndpoint, original: ChatStreamRequest): ChatStreamRequest['stream_options'] {
  if (upstream.kind === 'openai-compatible') return original.stream_options;
  return { ...original.stream_options, include_usage: true };
}
