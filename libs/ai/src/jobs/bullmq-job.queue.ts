import { Logger } from '@nestjs/common';
import type * as BullMq from 'bullmq';
import type { Job, Queue, Worker } from 'bullmq';
import { JobsOptions, RedisOptions } from '../ai-module-options';
import { Clock } from '../common/clock';
import { requireOptional } from '../common/optional-package';
import { JobEntity } from './job.entity';
import { JobQueue, JobWorker } from './job-queue';
import { JobRepository } from './job.repository';

/** BullMQ is an optional peer dependency, loaded with the first queue on Redis. */
const loadBullMq = () => requireOptional<typeof BullMq>('bullmq', 'asynchronous jobs on Redis (the `redis` option with a `database`)');

export const BULLMQ_QUEUE_NAME = 'tollgate-chat-jobs';

/** BullMQ's largest priority; a tenant's ordinal beyond it shares the last place. */
const MAX_PRIORITY = 2_097_151;

/** Never let BullMQ fail a job on its own: a stalled one is handed out again, and the lease decides who runs it. */
const NEVER = 1_000_000;

interface DispatchData {
  jobId: string;
}

/**
 * The scale-out queue: BullMQ on Redis, a worker in every replica. A job's BullMQ priority is its
 * per-tenant ordinal, so that one tenant's thousands of jobs never starve another's one. BullMQ
 * only dispatches: the job's record, lease and result are in the database, and a delivery that
 * cannot claim the job (its tenant is at its cap, another run holds it) is moved back to delayed.
 */
export class BullMqJobQueue implements JobQueue {
  private readonly logger = new Logger(BullMqJobQueue.name);
  private readonly queue: Queue<DispatchData>;
  private worker?: Worker<DispatchData>;
  private recovery?: NodeJS.Timeout;

  constructor(
    private readonly repository: JobRepository,
    private readonly clock: Clock,
    private readonly redis: RedisOptions,
    private readonly jobs: JobsOptions,
  ) {
    const { Queue } = loadBullMq();
    // A submit must fail at once, not queue up behind a lost connection: the caller hears of it.
    this.queue = new Queue(BULLMQ_QUEUE_NAME, { connection: { url: redis.url, enableOfflineQueue: false }, prefix: jobs.queuePrefix });
    this.queue.on('error', (error) => this.logger.error(`queue: ${error.message}`));
  }

  /** Resolves once connected (start-up waits for it, so that the first submits do not fail). */
  ready(): Promise<void> {
    return this.queue.waitUntilReady();
  }

  async enqueue(job: Pick<JobEntity, 'id' | 'tenantOrdinal' | 'notBefore'>): Promise<void> {
    await this.queue.add(
      'chat',
      { jobId: job.id },
      {
        jobId: job.id,
        priority: Math.min(job.tenantOrdinal, MAX_PRIORITY),
        delay: Math.max(0, job.notBefore - this.clock.now()),
        // The database keeps the outcome; Redis forgets the dispatch once it is done.
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async remove(jobId: string): Promise<void> {
    // An active job is locked and stays: its run notices the cancellation through its lease.
    await this.queue.remove(jobId);
  }

  async start(worker: JobWorker): Promise<void> {
    const { concurrency, leaseMs, queuePrefix } = this.jobs;
    const { Worker } = loadBullMq();
    this.worker = new Worker<DispatchData>(BULLMQ_QUEUE_NAME, (job, token) => this.process(job, token, worker), {
      // A worker's blocking reads must wait out a lost connection rather than fail.
      connection: { url: this.redis.url, maxRetriesPerRequest: null },
      prefix: queuePrefix,
      concurrency,
      lockDuration: leaseMs,
      stalledInterval: leaseMs,
      maxStalledCount: NEVER,
      drainDelay: 1,
    });
    this.worker.on('error', (error) => this.logger.error(`worker: ${error.message}`));
    this.recovery = setInterval(() => void this.redispatchStranded(), leaseMs);
    this.recovery.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.recovery);
    // Waits for the jobs running here to return.
    await this.worker?.close();
    await this.queue.close();
  }

  private async process(dispatch: Job<DispatchData>, token: string | undefined, worker: JobWorker): Promise<void> {
    const { leaseMs, tenantConcurrency, pollIntervalMs } = this.jobs;
    let claimed: Awaited<ReturnType<JobRepository['claim']>>;
    try {
      claimed = await this.repository.claim(dispatch.data.jobId, { now: this.clock.now(), leaseMs, tenantConcurrency }, pollIntervalMs);
    } catch (error) {
      // A failed dispatch would be removed from Redis with the job still queued: try again later instead.
      this.logger.warn(`could not claim job ${dispatch.data.jobId}: ${(error as Error).message}`);
      return this.delay(dispatch, token, this.clock.now() + pollIntervalMs);
    }
    if ('refused' in claimed) {
      if (claimed.refused === 'finished') return;
      return this.delay(dispatch, token, claimed.retryAt);
    }
    const outcome = await worker(claimed);
    if (outcome.kind === 'deferred') return this.delay(dispatch, token, outcome.until);
  }

  /** Back to BullMQ's delayed set with its priority: it waits in Redis, not in a worker slot. */
  private async delay(dispatch: Job<DispatchData>, token: string | undefined, until: number): Promise<never> {
    // BullMQ's delays are on the wall clock, the lease's on the injected one.
    await dispatch.moveToDelayed(Date.now() + Math.max(0, until - this.clock.now()), token);
    const { DelayedError } = loadBullMq();
    throw new DelayedError();
  }

  /**
   * Jobs that BullMQ no longer holds are dispatched again: a run that died without BullMQ noticing
   * (its lease lapsed), or a queued job whose dispatch was lost (a failed move back to delayed, Redis
   * data lost) and that has been due for a lease period. One BullMQ still holds is left alone; the
   * lease keeps a second run out.
   */
  async redispatchStranded(): Promise<void> {
    const now = this.clock.now();
    try {
      const stranded = [...(await this.repository.lapsedLeases(now)), ...(await this.repository.overdueQueued(now - this.jobs.leaseMs))];
      for (const job of stranded) {
        if (await this.queue.getJob(job.id)) continue;
        await this.enqueue({ ...job, notBefore: this.clock.now() });
      }
    } catch (error) {
      this.logger.error(`could not re-dispatch lapsed jobs: ${(error as Error).message}`);
    }
  }
}
