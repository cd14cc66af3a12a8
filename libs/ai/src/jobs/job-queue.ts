import { Inject } from '@nestjs/common';
import type { JobEntity } from './job.entity';
import type { ClaimedJob } from './job.repository';

/** How one run of a job ended: the job is finished (or no longer this run's), or waits in the queue until `until`. */
export type RunOutcome = { kind: 'done' } | { kind: 'deferred'; until: number };

/** Runs a job the queue has claimed for it. */
export type JobWorker = (job: ClaimedJob) => Promise<RunOutcome>;

/**
 * What dispatches stored jobs to workers: a poll of the jobs table in process, or BullMQ on
 * Redis. The job's record, lease and result stay in the database either way; a queue decides
 * only which job runs next, where, and when.
 */
export interface JobQueue {
  /** Makes a newly stored job known to the queue. */
  enqueue(job: Pick<JobEntity, 'id' | 'tenantOrdinal' | 'notBefore'>): Promise<void>;
  /** Withdraws a cancelled job, if the queue still holds it. */
  remove(jobId: string): Promise<void>;
  /** Starts handing jobs to `worker`, at most `jobs.concurrency` at once. */
  start(worker: JobWorker): Promise<void>;
  /** Stops taking jobs; resolves once the running ones have returned and the queue's connections are closed. */
  stop(): Promise<void>;
}

export const JobQueue = Symbol('JobQueue');

export const InjectJobQueue = (): PropertyDecorator & ParameterDecorator => Inject(JobQueue);
