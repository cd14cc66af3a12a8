import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { JobErrorFields, JobsOptions } from '../ai-module-options';
import type { ChatRequest } from '../chat/chat-request';
import { JOBS_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { ModelRegistry } from '../context/model-registry';
import { isAiError, JobNotFoundError, TooManyJobsError } from '../errors/ai-errors';
import { TenantLimiter } from '../limits/tenant-limiter';
import { Governance } from '../tenancy/governance';
import { JobEntity } from './job.entity';
import { ChatCompletionJob, JobContext, Jobs, SubmittedJob } from './job-types';
import { InjectJobQueue, JobQueue } from './job-queue';
import { JobRepository } from './job.repository';
import { RunningJobs } from './running-jobs';
import { WebhookNotifier } from './webhook-notifier';

/** Finished jobs past their retention are deleted this often. */
const EXPIRY_SWEEP_MS = 60_000;

/** Submitting, reading and cancelling jobs; `JobRunner` runs them. */
@Injectable()
export class JobsService implements Jobs, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(JobsService.name);
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly repository: JobRepository,
    @InjectJobQueue() private readonly queue: JobQueue,
    private readonly running: RunningJobs,
    private readonly webhooks: WebhookNotifier,
    private readonly governance: Governance,
    private readonly limiter: TenantLimiter,
    private readonly registry: ModelRegistry,
    @InjectClock() private readonly clock: Clock,
    @Inject(JOBS_OPTIONS) private readonly jobs: JobsOptions,
  ) {}

  /**
   * Stores the job and queues it; what a call would refuse at once (an unknown model, a bad webhook) is refused here.
   * A submit is one of the tenant's requests per minute, as a call is; the job's run is not counted again.
   */
  async submit(request: ChatRequest, context: JobContext): Promise<SubmittedJob> {
    if (context.webhookUrl !== undefined) this.webhooks.assertAllowed(context.webhookUrl);
    const { limits } = await this.governance.tenant(context.tenantId);
    this.registry.assertCallable(request.model, limits.allowUnknownModels);
    this.registry.assertCompletionLimit(request);
    this.governance.assertModelAllowed(limits, request.model);
    // Last: a submit refused for what it asks stores nothing and is not counted, as a call refused before admission.
    if (limits.requestsPerMinute !== null) await this.limiter.takeRequest(context.tenantId, limits.requestsPerMinute);
    const { maxUnfinishedPerTenant } = this.jobs;
    const job = await this.repository.insert(
      {
        id: `job_${randomUUID().replaceAll('-', '')}`,
        tenantId: context.tenantId,
        keyId: context.keyId ?? null,
        model: request.model,
        request: JSON.stringify(request),
        contextPolicy: context.contextPolicy ?? null,
        webhookUrl: context.webhookUrl ?? null,
        createdAt: this.clock.now(),
      },
      maxUnfinishedPerTenant,
    );
    if (!job) throw new TooManyJobsError(maxUnfinishedPerTenant, Math.max(1_000, this.running.averageRunMs));
    // The stored job is the promise; a dispatch lost with Redis is made again by the queue's recovery.
    // Redis's own status logs its outage once; a line per submit would bury it.
    await this.queue.enqueue(job).catch((error: unknown) => this.logger.debug(`job ${job.id} stored, dispatch deferred: ${(error as Error).message}`));
    const ahead = await this.repository.jobsAhead(job);
    const estimatedWaitMs = (Math.floor(ahead / this.jobs.concurrency) + 1) * this.running.averageRunMs;
    return { ...jobView(job), estimated_wait_seconds: Math.max(1, Math.ceil(estimatedWaitMs / 1000)) };
  }

  /** The tenant's job; another tenant's is not found, exactly like one that never existed. */
  async get(jobId: string, tenantId: string): Promise<ChatCompletionJob> {
    const job = await this.repository.find(jobId, this.clock.now(), tenantId);
    if (!job) throw new JobNotFoundError(jobId);
    return jobView(job);
  }

  /** Cancels the job if it has not finished (a running one's upstream call is aborted); a finished job is returned as it is. */
  async cancel(jobId: string, tenantId: string): Promise<ChatCompletionJob> {
    const now = this.clock.now();
    const outcome = await this.repository.cancel(jobId, tenantId, now, now + this.jobs.retentionMs);
    if (!outcome) throw new JobNotFoundError(jobId);
    if (outcome.cancelled) {
      // A run in another replica notices when it next renews its lease.
      this.running.interrupt(jobId, 'cancelled');
      await this.queue.remove(jobId).catch(() => undefined);
    }
    return jobView(outcome.job);
  }

  async deleteExpired(): Promise<number> {
    try {
      return await this.repository.deleteExpired(this.clock.now());
    } catch (error) {
      this.logger.error(`could not delete expired jobs: ${(error as Error).message}`);
      return 0;
    }
  }

  onModuleInit(): void {
    this.sweeper = setInterval(() => void this.deleteExpired(), EXPIRY_SWEEP_MS);
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweeper);
  }
}

export function jobView(job: JobEntity): ChatCompletionJob {
  return {
    id: job.id,
    object: 'chat.completion.job',
    status: job.status,
    model: job.model,
    created_at: unixSeconds(job.createdAt)!,
    started_at: unixSeconds(job.startedAt),
    completed_at: unixSeconds(job.finishedAt),
    expires_at: unixSeconds(job.expiresAt),
    attempts: job.runs,
    completion: job.result === null ? null : (JSON.parse(job.result) as ChatCompletion),
    error: job.error === null ? null : (JSON.parse(job.error) as JobErrorFields),
    webhook_url: job.webhookUrl,
    webhook_status: job.webhookStatus,
  };
}

function unixSeconds(epochMs: number | null): number | null {
  return epochMs === null ? null : Math.floor(epochMs / 1000);
}

/** The library's own record of a failure; the gateway replaces it with its HTTP mapping (`jobs.describeError`). */
export function describeJobError(error: unknown): JobErrorFields {
  if (isAiError(error)) {
    return { message: error.message, type: error.policy.retryable ? 'server_error' : 'invalid_request_error', code: error.code, param: error.param ?? null };
  }
  return { message: 'The job failed unexpectedly.', type: 'server_error', code: 'internal_error', param: null };
}
