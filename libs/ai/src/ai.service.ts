import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ChatCompletion, ChatCompletionCreateParamsBase, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { Model } from 'openai/resources/models';
import { ResolvedAiOptions } from './ai-module-options';
import { RESOLVED_AI_OPTIONS } from './ai.module-definition';
import { Clock, InjectClock } from './common/clock';
import { ContextFitter, ContextOutcome } from './context/context-fitter';
import { ModelRegistry } from './context/model-registry';
import { TokenCounter } from './context/token-counter';
import { ContextPolicy, TenantLimits } from './tenancy/tenant-limits';
import { ActiveTenant } from './tenancy/tenant.service';
import { isAiError, RequestAbortedError } from './errors/ai-errors';
import { CallListener } from './telemetry/call-events';
import { TenantRateLimitStates } from './limits/rate-limit-state';
import { Admission, AdmissionContext, CallEnd, Governance } from './tenancy/governance';
import { ChatStream, primeStream, relayStream, StreamEnd } from './upstream/chat-stream';
import { CallContext, fallbackChainOf, ResilientUpstream } from './upstream/resilient-upstream';
import { InjectUpstreamClient, UpstreamClient } from './upstream/upstream-client';
import { ChatCompletionJob, JobContext, JobsService, SubmittedJob } from './jobs/jobs.service';

const MODEL_LIST_ROUTE = 'GET /models';
const MODEL_LIST_TTL_MS = 60_000;

/** An OpenAI chat completion request; `stream` is chosen by calling `chat` or `chatStream`. */
export type ChatRequest = Omit<ChatCompletionCreateParamsBase, 'stream'>;

export interface ChatContext extends CallContext {
  /** Who the call is for: every limit, log line and ledger row is keyed by it. */
  tenantId: string;
  /** What to do with a prompt that does not fit, instead of the tenant plan's policy. */
  contextPolicy?: ContextPolicy;
  /** The tenant's key that authenticated the call, for the ledger. */
  keyId?: string;
  /** Correlates the call's logs and ledger row; the gateway passes its `x-request-id`. @default a new UUID */
  requestId?: string;
  /** Told how the call ended (tokens, cost, attempts, outcome), or that a limit refused it: e.g. for a request log line. */
  onCallEnded?: CallListener;
  /** The call was counted against the tenant's requests per minute already, as a job is at its submit. @default false */
  requestAlreadyCounted?: boolean;
}

export interface ChatResult {
  completion: ChatCompletion;
  /** The model that answered: the requested one or a fallback. */
  model: string;
  /** Upstream calls made, retries and fallbacks included. */
  attempts: number;
  upstreamRequestId?: string;
  /** Where the tenant stands against its rate limits after this call. */
  rateLimits: TenantRateLimitStates;
  /** What the context policy did to fit the prompt. */
  context: ContextReport;
  /** The completion limit the tenant's plan set (`defaultCompletionTokens`) on a request that named none; absent otherwise. */
  completionAllowance?: number;
}

/** A stream, where the tenant stands against its rate limits, and what the context policy did. */
export type GovernedChatStream = ChatStream & {
  readonly rateLimits: TenantRateLimitStates;
  readonly context: ContextReport;
  readonly completionAllowance?: number;
};

export type ContextReport = Omit<ContextOutcome, 'request'>;

/** A request ready for admission: fitted to its window, with the completion limit its plan may have set. */
type FittedRequest<T extends ChatRequest> = ContextOutcome & { request: T; completionAllowance?: number };

const SUMMARY_INSTRUCTIONS =
  'Summarize the conversation below for the assistant that continues it: keep facts, decisions, names, numbers and open questions; ' +
  'leave out pleasantries. Answer with the summary only.';
const SUMMARY_MAX_TOKENS = 400;

/**
 * The library's one entry point: every call passes the tenant's limits and quotas, then the
 * retry, breaker, timeout and fallback policies, and is settled and written to the ledger.
 */
@Injectable()
export class AiService {
  private readonly logger = new Logger(AiService.name);
  private modelList?: { at: number; models: Model[] };

  constructor(
    private readonly upstream: ResilientUpstream,
    private readonly governance: Governance,
    private readonly tokens: TokenCounter,
    private readonly registry: ModelRegistry,
    private readonly fitter: ContextFitter,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    @Inject(RESOLVED_AI_OPTIONS) private readonly options: ResolvedAiOptions,
    @InjectClock() private readonly clock: Clock,
    private readonly jobs: JobsService,
  ) {}

  async chat(original: ChatRequest, context: ChatContext): Promise<ChatResult> {
    const tenant = await this.governance.tenant(context.tenantId);
    const { request, completionAllowance, ...report } = await this.fitContext(original, context, tenant.limits);
    const admission = await this.governance.admit(request, this.admissionContext(context, false, request.model, report.promptTokens, tenant));
    try {
      const outcome = await this.upstream.call(request.model, this.callContext(context, admission), (model, control) =>
        this.client.createChatCompletion({ ...request, model, stream: false }, control),
      );
      const { value: completion, model, attempts, upstreamRequestId } = outcome;
      const text = completion.choices[0]?.message.content ?? null;
      admission.finish({ outcome: 'success', attempts, modelServed: model, usage: billed(completion.usage), upstreamRequestId, completion: text });
      return { completion, model, attempts, upstreamRequestId, rateLimits: admission.rateLimits, context: report, completionAllowance };
    } catch (error) {
      admission.finish(failure(error));
      throw withRateLimits(error, admission);
    }
  }

  /** Resolves once the first chunk has arrived, so that a failure before it is an ordinary error. */
  async chatStream(
    original: ChatRequest & Pick<ChatCompletionCreateParamsBase, 'stream_options'>,
    context: ChatContext,
  ): Promise<GovernedChatStream> {
    const tenant = await this.governance.tenant(context.tenantId);
    const { request, completionAllowance, ...report } = await this.fitContext(original, context, tenant.limits);
    const admission = await this.governance.admit(request, this.admissionContext(context, true, request.model, report.promptTokens, tenant));
    const forwardUsage = original.stream_options?.include_usage === true;
    try {
      const outcome = await this.upstream.call(request.model, this.callContext(context, admission), async (model, control) => {
        // Always asked upstream: settlement needs the real usage, whether or not the tenant wants to see it.
        const body = { ...request, model, stream: true as const, stream_options: { ...original.stream_options, include_usage: true } };
        const opened = await this.client.streamChatCompletion(body, control);
        return { data: await primeStream(opened.data, control), requestId: opened.requestId };
      });
      const primed = outcome.value;
      const chunks = relayStream(primed, {
        idleMs: this.options.timeouts.streamIdleMs,
        callerSignal: context.signal,
        forwardUsage,
        onEnd: (end) => admission.finish(this.streamEnd(end, outcome, admission)),
      });
      return {
        model: outcome.model,
        attempts: outcome.attempts,
        upstreamRequestId: outcome.upstreamRequestId,
        rateLimits: admission.rateLimits,
        context: report,
        completionAllowance,
        cancel: () => primed.control.abort(new RequestAbortedError()),
        [Symbol.asyncIterator]: () => chunks,
      };
    } catch (error) {
      admission.finish(failure(error));
      throw withRateLimits(error, admission);
    }
  }

  /**
   * Queues the request as a job and returns at once: a worker runs it through `chat`, limits and
   * quotas included, waiting in the queue when a rate limit says to. Poll `getJob`, or pass a webhook.
   */
  submit(request: ChatRequest, context: JobContext): Promise<SubmittedJob> {
    return this.jobs.submit(request, context);
  }

  /** The tenant's job, with its completion or error once finished; `JobNotFoundError` for any other tenant's. */
  getJob(jobId: string, tenantId: string): Promise<ChatCompletionJob> {
    return this.jobs.get(jobId, tenantId);
  }

  /** Cancels the tenant's job unless it has finished; returns it as it now stands. */
  cancelJob(jobId: string, tenantId: string): Promise<ChatCompletionJob> {
    return this.jobs.cancel(jobId, tenantId);
  }

  /** The prompt tokens of a request, counted with its model's tokenizer, as rate limits, quotas and context policies count them. */
  countTokens(request: Pick<ChatRequest, 'model' | 'messages' | 'tools'>): number {
    return this.tokens.countPrompt(request, this.registry.encodingOf(request.model));
  }

  /**
   * The model must be known (or the plan must pass unknown ones through), its completion limit within what it can
   * write, and the prompt must fit, by the tenant's policy; then the plan's default allowance, if any, is applied.
   */
  private async fitContext<T extends ChatRequest>(request: T, context: ChatContext, limits: TenantLimits): Promise<FittedRequest<T>> {
    this.registry.assertCallable(request.model, limits.allowUnknownModels);
    this.registry.assertCompletionLimit(request);
    const policy = context.contextPolicy ?? limits.contextPolicy;
    const outcome = await this.fitter.fit(request, limits, policy, (messages) => this.summarize(messages, context));
    if (outcome.action !== 'none') {
      this.logger.log(
        `context ${outcome.action} for tenant ${context.tenantId} request ${context.requestId ?? '-'}: ` +
          `${outcome.removedMessages} messages, ${outcome.promptTokens} prompt tokens, model ${outcome.request.model}`,
      );
    }
    const capped = this.governance.capCompletion(outcome.request as T, limits, outcome.promptTokens);
    const completionAllowance = capped === outcome.request ? undefined : (capped.max_completion_tokens ?? undefined);
    return { ...outcome, request: capped, completionAllowance };
  }

  /** The summary is an ordinary call for the same tenant: limited, counted and in the ledger like any other. */
  private async summarize(messages: ChatCompletionMessageParam[], context: ChatContext): Promise<string> {
    const transcript = messages.map((message) => `${message.role}: ${JSON.stringify(message.content ?? '')}`).join('\n');
    const { completion } = await this.chat(
      {
        model: this.options.summaryModel,
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
   * The upstream's models this tenant may use. The list is asked upstream at most once a minute
   * (it hardly changes, and tenants must not be able to turn this route into upstream load).
   */
  async listModels(context: ChatContext): Promise<Model[]> {
    const { limits } = await this.governance.tenant(context.tenantId);
    const models = await this.upstreamModels(context);
    const allowed = limits.allowedModels;
    return allowed === null ? models : models.filter((model) => allowed.includes(model.id));
  }

  private async upstreamModels(context: CallContext): Promise<Model[]> {
    const now = this.clock.now();
    if (this.modelList && now - this.modelList.at < MODEL_LIST_TTL_MS) return this.modelList.models;
    const outcome = await this.upstream.call(MODEL_LIST_ROUTE, context, (_model, control) => this.client.listModels(control));
    this.modelList = { at: now, models: outcome.value };
    return outcome.value;
  }

  private admissionContext(context: ChatContext, stream: boolean, model: string, promptTokens: number, tenant: ActiveTenant): AdmissionContext {
    const fallbacks = fallbackChainOf(tenant.limits.fallbackModels ?? this.options.fallbackModels, model);
    const requestId = context.requestId ?? randomUUID();
    return {
      tenantId: context.tenantId,
      tenant,
      keyId: context.keyId,
      requestId,
      stream,
      servingModels: [model, ...fallbacks],
      promptTokens,
      onCallEnded: context.onCallEnded,
      requestAlreadyCounted: context.requestAlreadyCounted,
    };
  }

  private callContext(context: ChatContext, admission: Admission): CallContext {
    return { ...context, fallbackModels: admission.tenant.limits.fallbackModels ?? undefined };
  }

  /** A stream that broke before its usage chunk is billed by what it relayed. */
  private streamEnd(end: StreamEnd, outcome: { model: string; attempts: number; upstreamRequestId?: string }, admission: Admission): CallEnd {
    const usage = billed(end.usage) ?? {
      promptTokens: admission.estimate.promptTokens,
      completionTokens: this.tokens.countText(end.text),
    };
    return {
      outcome: end.error === undefined ? 'success' : outcomeOf(end.error),
      attempts: outcome.attempts,
      modelServed: outcome.model,
      usage,
      upstreamRequestId: outcome.upstreamRequestId,
      completion: end.text,
    };
  }
}

function billed(usage: CompletionUsage | null | undefined) {
  return usage ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } : undefined;
}

function outcomeOf(error: unknown): string {
  return isAiError(error) ? error.code : 'internal_error';
}

/** A failed call's end: upstream errors say how many attempts were made and the upstream's request id. */
function failure(error: unknown): CallEnd {
  if (!isAiError(error)) return { outcome: 'internal_error', attempts: 0 };
  return { outcome: error.code, attempts: error.upstreamAttempts ?? 0, upstreamRequestId: error.upstreamRequestId };
}

function withRateLimits(error: unknown, admission: Admission): unknown {
  if (isAiError(error)) error.rateLimits = { ...admission.rateLimits, ...error.rateLimits };
  return error;
}
