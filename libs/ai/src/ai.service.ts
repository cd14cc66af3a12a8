import { Injectable, Optional } from '@nestjs/common';
import type { Model } from 'openai/resources/models';
import { ChatPipeline } from './chat/chat-pipeline';
import { ChatContext, ChatRequest, ChatResult, ChatStreamRequest, GovernedChatStream } from './chat/chat-request';
import type { EndpointContext } from './chat/call-steps';
import { Clock, InjectClock } from './common/clock';
import { ModelRegistry } from './context/model-registry';
import { TokenCounter } from './context/token-counter';
import { Admissions, DEFAULT_TENANT_ID } from './chat/admissions';
import { EmbeddingRequest, EmbeddingResult } from './embeddings/embedding-request';
import { EmbeddingsPipeline } from './embeddings/embeddings-pipeline';
import { ModelNotListedError } from './errors/ai-errors';
import { ChatCompletionJob, InjectJobs, JobContext, Jobs, SubmittedJob } from './jobs/job-types';
import { CallContext, ResilientUpstream } from './upstream/resilient-upstream';
import { InjectUpstreamClient, UpstreamClient } from './upstream/upstream-client';
import { GovernedResponseStream, ResponseRequest, ResponseResult, ResponseStreamRequest } from './responses/response-request';
import { ResponsesPipeline } from './responses/responses-pipeline';

export type { ChatContext, ChatRequest, ChatResult, ContextReport, GovernedChatStream } from './chat/chat-request';

const MODEL_LIST_ROUTE = 'GET /models';
const MODEL_LIST_TTL_MS = 60_000;

/**
 * The library's one entry point: every call passes the tenant's limits and quotas, then the
 * retry, breaker, timeout and fallback policies, and is settled and written to the ledger
 * (ChatPipeline, EmbeddingsPipeline, ResponsesPipeline); jobs, token counts and the model list are here too.
 */
@Injectable()
export class AiService {
  private modelList?: { at: number; models: Model[] };

  constructor(
    private readonly pipeline: ChatPipeline,
    private readonly embeddings: EmbeddingsPipeline,
    private readonly responses: ResponsesPipeline,
    private readonly upstream: ResilientUpstream,
    private readonly admissions: Admissions,
    private readonly tokens: TokenCounter,
    private readonly registry: ModelRegistry,
    @InjectUpstreamClient() private readonly client: UpstreamClient,
    @InjectClock() private readonly clock: Clock,
    /** Absent without a database: jobs are kept in it. */
    @Optional() @InjectJobs() private readonly jobs?: Jobs,
  ) {}

  chat(request: ChatRequest, context: ChatContext = {}): Promise<ChatResult> {
    return this.pipeline.chat(request, context);
  }

  /** Resolves once the first chunk has arrived, so that a failure before it is an ordinary error. */
  chatStream(request: ChatStreamRequest, context: ChatContext = {}): Promise<GovernedChatStream> {
    return this.pipeline.chatStream(request, context);
  }

  /** An embeddings call (`POST /embeddings`), reserved by its input tokens and settled as the upstream billed it. */
  embed(request: EmbeddingRequest, context: EndpointContext = {}): Promise<EmbeddingResult> {
    return this.embeddings.embed(request, context);
  }

  /** A Responses API call (`POST /responses`); a response the upstream answers as `failed` is returned, and in the ledger as a failure. */
  respond(request: ResponseRequest, context: EndpointContext = {}): Promise<ResponseResult> {
    return this.responses.respond(request, context);
  }

  /**
   * A streamed Responses API call: its typed events, each as the upstream sent it. Resolves once the first event has
   * arrived, so that a failure before it is an ordinary error; a stream that ends in `response.failed` is in the ledger
   * as a failure, its events relayed all the same.
   */
  respondStream(request: ResponseStreamRequest, context: EndpointContext = {}): Promise<GovernedResponseStream> {
    return this.responses.respondStream(request, context);
  }

  /**
   * Queues the request as a job and returns at once: a worker runs it through `chat`, limits and
   * quotas included, waiting in the queue when a rate limit says to. Poll `getJob`, or pass a webhook.
   */
  submit(request: ChatRequest, context: JobContext): Promise<SubmittedJob> {
    return this.jobsService().submit(request, context);
  }

  /** The tenant's job, with its completion or error once finished; `JobNotFoundError` for any other tenant's. */
  getJob(jobId: string, tenantId: string): Promise<ChatCompletionJob> {
    return this.jobsService().get(jobId, tenantId);
  }

  /** Cancels the tenant's job unless it has finished; returns it as it now stands. */
  cancelJob(jobId: string, tenantId: string): Promise<ChatCompletionJob> {
    return this.jobsService().cancel(jobId, tenantId);
  }

  /** The prompt tokens of a request, counted with its model's tokenizer, as rate limits, quotas and context policies count them. */
  countTokens(request: Pick<ChatRequest, 'model' | 'messages' | 'tools'>): number {
    return this.tokens.countPrompt(request, this.registry.encodingOf(request.model));
  }

  /**
   * The upstream's models this tenant may use. The list is asked upstream at most once a minute
   * (it hardly changes, and tenants must not be able to turn this route into upstream load).
   */
  async listModels(context: ChatContext = {}): Promise<Model[]> {
    const { limits } = await this.admissions.tenant(context.tenantId ?? DEFAULT_TENANT_ID);
    const models = await this.upstreamModels(context);
    const allowed = limits.allowedModels;
    return allowed === null ? models : models.filter((model) => allowed.includes(model.id));
  }

  /** One of the models `listModels` gives this tenant; `ModelNotListedError` for any other. */
  async retrieveModel(id: string, context: ChatContext = {}): Promise<Model> {
    const model = (await this.listModels(context)).find((listed) => listed.id === id);
    if (!model) throw new ModelNotListedError(id);
    return model;
  }

  private jobsService(): Jobs {
    if (!this.jobs) throw new Error('asynchronous jobs are kept in the database: give AiModule a `database`');
    return this.jobs;
  }

  private async upstreamModels(context: CallContext): Promise<Model[]> {
    const now = this.clock.now();
    if (this.modelList && now - this.modelList.at < MODEL_LIST_TTL_MS) return this.modelList.models;
    const outcome = await this.upstream.call(MODEL_LIST_ROUTE, { ...context, unguarded: true }, (_model, control) => this.client.listModels(control));
    this.modelList = { at: now, models: outcome.value };
    return outcome.value;
  }
}
