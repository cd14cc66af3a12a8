import { Logger } from '@nestjs/common';
import { JobsOptions } from '../ai-module-options';
import { Clock } from '../common/clock';
import { JobQueue, JobWorker } from './job-queue';
import { JobRepository } from './job.repository';

/**
 * The embedded queue: workers in this process poll the jobs table and claim the due job with the
 * lowest per-tenant ordinal under a lease. A job whose process died is claimed again once its lease
 * lapses, by this process or any other on the same database.
 */
export class DatabaseJobQueue implements JobQueue {
  private readonly logger = new Logger(DatabaseJobQueue.name);
  private readonly runs = new Set<Promise<void>>();
  private stopped = true;
  private pump?: Promise<void>;
  private wakeUp?: () => void;

  constructor(
    private readonly repository: JobRepository,
    private readonly clock: Clock,
    private readonly jobs: JobsOptions,
  ) {}

  /** The job is in the table already: only wake the workers up. */
  async enqueue(): Promise<void> {
    this.wakeUp?.();
  }

  /** A cancelled job is no longer claimable: nothing to withdraw. */
  async remove(): Promise<void> {}

  async start(worker: JobWorker): Promise<void> {
    this.stopped = false;
    this.pump = this.claimWhileRunning(worker);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.pump;
    await Promise.all([...this.runs]);
  }

  private async claimWhileRunning(worker: JobWorker): Promise<void> {
    const { concurrency, leaseMs, tenantConcurrency, pollIntervalMs } = this.jobs;
    while (!this.stopped) {
      if (this.runs.size >= concurrency) {
        await Promise.race([...this.runs, this.wakeUpCall()]);
        continue;
      }
      const job = await this.repository.claimNext({ now: this.clock.now(), leaseMs, tenantConcurrency }).catch((error: unknown) => {
        this.logger.error(`could not claim a job: ${(error as Error).message}`);
        return undefined;
      });
      if (this.stopped && job) {
        // Claimed while stopping: give it straight back, not counted as a run.
        await this.repository.giveBack(job.id, job.leaseToken, this.clock.now()).catch(() => undefined);
        break;
      }
      if (!job) {
        await this.idle(pollIntervalMs);
        continue;
      }
      const run: Promise<void> = worker(job)
        .then(() => undefined)
        .catch((error: unknown) => this.logger.error(`job ${job.id} failed to run: ${(error as Error).message}`))
        .finally(() => {
          this.runs.delete(run);
          // A freed slot, or a freed tenant slot, may let a waiting job run now.
          this.wakeUp?.();
        });
      this.runs.add(run);
    }
  }

  private wakeUpCall(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
    });
  }

  /** Waits for the poll interval, or less if a submit or a finished run wakes the workers. */
  private async idle(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.wakeUpCall(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }
}
