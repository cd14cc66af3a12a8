import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { JobErrorFields, JobsOptions } from '../ai-module-options';
import { ChatPipeline } from '../chat/chat-pipeline';
import { ChatRequest } from '../chat/chat-request';
import { JOBS_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { AiErrorCode, isAiError, TenantDisabledError } from '../errors/ai-errors';
import { ApiKeyService } from '../tenancy/api-key.service';
import { ContextPolicy } from '../tenancy/tenant-limits';
import { TenantService } from '../tenancy/tenant.service';
import { InjectJobQueue, JobQueue, RunOutcome } from './job-queue';
import { ClaimedJob, JobEnd, JobRepository } from './job.repository';
import { describeJobError, jobView } from './jobs.service';
import { JobsShutdown } from './job-types';
import { JobInterruptedError, RunningJobs } from './running-jobs';
import { WebhookNotifier } from './webhook-notifier';
import { JobEvents } from './job-events';

/** How often finished jobs are looked at for a webhook their process died before delivering. */
const WEBHOOK_SWEEP_MS = 60_000;

/** A job whose key was revoked after it was submitted, as its tenant reads it. */
const KEY_REVOKED: JobErrorFields = {
  message: 'The API key that submitted this job was revoked before the job ran. Submit it again with a valid key.',
  type: 'invalid_request_error',
  code: 'api_key_revoked',
  param: null,
};

/** Failures that waiting cures: the job goes back to the queue for the wait they name. */
const WAITS_IN_QUEUE = new Set<AiErrorCode>(['rate_limit_exceeded', 'upstream_rate_limited', 'upstream_unavailable']);

/**
 * Runs claimed jobs through `ChatPipeline.chat`, the guarded path every request takes, and settles
 * each once: the end is written only while the run still holds the job's lease.
 */
@Injectable()
export class JobRunner implements JobsShutdown, OnApplicationBootstrap {
  private readonly logger = new Logger(JobRunner.name);
  private readonly deliveries = new Set<Promise<void>>();
  private webhookSweeper?: NodeJS.Timeout;

  constructor(
    private readonly pipeline: ChatPipeline,
    private readonly repository: JobRepository,
    @InjectJobQueue() private readonly queue: JobQueue,
    private readonly running: RunningJobs,
    private readonly webhooks: WebhookNotifier,
    private readonly tenants: TenantService,
    private readonly keys: ApiKeyService,
    private readonly events: JobEvents,
    @InjectClock() private readonly clock: Clock,
    @Inject(JOBS_OPTIONS) private readonly jobs: JobsOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.jobs.enabled) return;
    await this.queue.start((job) => this.run(job));
    this.webhookSweeper = setInterval(() => void this.redeliverWebhooks(), WEBHOOK_SWEEP_MS);
    this.webhookSweeper.unref();
  }

  async run(job: ClaimedJob): Promise<RunOutcome> {
    // Runs are counted at each claim: past maxRuns, earlier runs died with their process (a request that
    // crashes its worker must not be taken up by every replica forever).
    if (job.runs > this.jobs.maxRuns) {
      const error = { message: `The job stopped its worker ${job.runs - 1} times and was given up.`, type: 'server_error', code: 'internal_error', param: null };
      return this.end(job, { status: 'failed', error: JSON.stringify(error) });
    }
    const startedAt = this.clock.now();
    if (job.runs === 1) this.events.firstRunStarted.emit({ waitSeconds: (startedAt - job.createdAt) / 1000 });
    const refusal = await this.submitterRefusal(job);
    if (refusal) return this.end(job, { status: 'failed', error: JSON.stringify(refusal) });
    const signal = this.running.start(job.id, job.leaseToken);
    const heartbeat = this.keepLease(job);
    let completion: ChatCompletion;
    try {
      ({ completion } = await this.pipeline.chat(JSON.parse(job.request) as ChatRequest, {
        tenantId: job.tenantId,
        keyId: job.keyId ?? undefined,
        contextPolicy: (job.contextPolicy as ContextPolicy | null) ?? undefined,
        // One ledger row per run, each traceable to its job.
        requestId: `${job.id}:${job.runs}`,
        signal,
        deferRetryAfter: true,
        // The submit took the tenant's request from its requests per minute.
        requestAlreadyCounted: true,
      }));
    } catch (error) {
      return await this.afterFailure(job, error, signal);
    } finally {
      clearInterval(heartbeat);
      this.running.end(job.id, this.clock.now() - startedAt);
    }
    return this.end(job, { status: 'succeeded', result: JSON.stringify(completion) });
  }

  /** Stops the queue: running jobs get `shutdownGraceMs` to finish, then go back to the queue for the next process. */
  async shutdown(): Promise<void> {
    clearInterval(this.webhookSweeper);
    const grace = setTimeout(() => this.running.interruptAll('shutdown'), this.jobs.shutdownGraceMs);
    try {
      await this.queue.stop();
    } finally {
      clearTimeout(grace);
    }
    this.webhooks.stop();
    await Promise.all([...this.deliveries]);
  }

  /** Delivers the webhooks of finished jobs whose process died before it could; returns how many it took on. */
  async redeliverWebhooks(): Promise<number> {
    try {
      const now = this.clock.now();
      const jobs = await this.repository.claimUndeliveredWebhooks(now, now + this.webhookHoldMs());
      for (const job of jobs) this.notify(job.id, job.webhookUrl!);
      return jobs.length;
    } catch (error) {
      this.logger.error(`could not look for undelivered webhooks: ${(error as Error).message}`);
      return 0;
    }
  }

  /**
   * Why the job may not run any more: its tenant was disabled or its key revoked since the submit. Both are
   * read from the database, not from the caches of the call path, so that a revocation in any replica holds at once.
   */
  private async submitterRefusal(job: ClaimedJob): Promise<JobErrorFields | undefined> {
    const { status } = await this.tenants.get(job.tenantId);
    if (status !== 'active') return this.describe(new TenantDisabledError(job.tenantId), job.id);
    if (job.keyId !== null && !(await this.keys.isLive(job.tenantId, job.keyId))) return KEY_REVOKED;
    return undefined;
  }

  /** Renews the lease while the call runs; a renewal refused means the job was cancelled or taken over. */
  private keepLease(job: ClaimedJob): NodeJS.Timeout {
    const { leaseMs } = this.jobs;
    const timer = setInterval(() => {
      this.repository
        .renewLease(job.id, job.leaseToken, this.clock.now() + leaseMs)
        .then((held) => {
          // Only this run: a renewal answered late must not stop a later run of the same job.
          if (!held) this.running.interrupt(job.id, 'lease_lost', job.leaseToken);
        })
        .catch((error: unknown) => this.logger.warn(`could not renew the lease of job ${job.id}: ${(error as Error).message}`));
    }, leaseMs / 3);
    timer.unref();
    return timer;
  }

  private async end(job: ClaimedJob, end: Pick<JobEnd, 'status' | 'result' | 'error'>): Promise<RunOutcome> {
    const now = this.clock.now();
    const settled = await this.repository.finish(job.id, job.leaseToken, {
      ...end,
      now,
      expiresAt: now + this.jobs.retentionMs,
      webhookHeldUntil: job.webhookUrl ? now + this.webhookHoldMs() : undefined,
    });
    if (settled) this.events.finished.emit({ status: end.status });
    if (settled && job.webhookUrl) this.notify(job.id, job.webhookUrl);
    return { kind: 'done' };
  }

  /** Back to the queue if waiting cures the failure, or if a shutdown cut the run short; failed otherwise. */
  private async afterFailure(job: ClaimedJob, error: unknown, signal: AbortSignal): Promise<RunOutcome> {
    if (signal.aborted) return this.interrupted(job, signal.reason);
    const waitMs = this.waitFor(error, job);
    if (waitMs === undefined) return this.end(job, { status: 'failed', error: JSON.stringify(this.describe(error, job.id)) });
    const until = this.clock.now() + waitMs;
    await this.repository.defer(job.id, job.leaseToken, until);
    return { kind: 'deferred', until };
  }

  /** A cancelled job is already recorded as such; one cut short by a shutdown goes back to the queue. */
  private async interrupted(job: ClaimedJob, reason: unknown): Promise<RunOutcome> {
    if (reason instanceof JobInterruptedError && reason.interruption === 'shutdown') {
      const now = this.clock.now();
      await this.repository.defer(job.id, job.leaseToken, now);
      return { kind: 'deferred', until: now };
    }
    return { kind: 'done' };
  }

  private describe(error: unknown, jobId: string): JobErrorFields {
    return (this.jobs.describeError ?? describeJobError)(error, jobId);
  }

  /** How long to wait in the queue before the next run, if waiting can cure `error` and the job has runs left. */
  private waitFor(error: unknown, job: ClaimedJob): number | undefined {
    if (!isAiError(error) || !WAITS_IN_QUEUE.has(error.code) || job.runs >= this.jobs.maxRuns) return undefined;
    return error.retryAfterMs ?? this.jobs.pollIntervalMs;
  }

  /** Long enough for every delivery attempt and backoff: only a process that died leaves a webhook pending past it. */
  private webhookHoldMs(): number {
    const { webhookMaxAttempts, webhookMaxDelayMs, webhookTimeoutMs } = this.jobs;
    return webhookMaxAttempts * (webhookMaxDelayMs + webhookTimeoutMs);
  }

  private notify(jobId: string, url: string): void {
    const delivery = (async () => {
      const job = await this.repository.find(jobId, this.clock.now());
      if (!job) return;
      const outcome = await this.webhooks.deliver(url, jobView(job), jobId);
      if (outcome === 'interrupted') return this.repository.releaseWebhook(jobId, this.clock.now());
      this.events.webhookSettled.emit({ outcome });
      await this.repository.setWebhookStatus(jobId, outcome === 'delivered' ? 'delivered' : 'failed');
    })()
      .catch((error: unknown) => this.logger.error(`webhook of job ${jobId} failed: ${(error as Error).message}`))
      .finally(() => this.deliveries.delete(delivery));
    this.deliveries.add(delivery);
  }
}
