import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Brackets, In, LessThan, LessThanOrEqual, Not } from 'typeorm';
import { Database } from '../persistence/database';
import { JobEntity, JobStatus, TERMINAL_STATUSES, WebhookStatus } from './job.entity';

export type NewJob = Pick<JobEntity, 'id' | 'tenantId' | 'keyId' | 'model' | 'request' | 'contextPolicy' | 'webhookUrl' | 'createdAt'>;

/** A job a run holds: only the holder of `leaseToken` may finish or defer it. */
export type ClaimedJob = JobEntity & { leaseToken: string };

export interface ClaimTerms {
  now: number;
  leaseMs: number;
  /** Running jobs of one tenant, across replicas, beyond which none of its jobs is claimed. */
  tenantConcurrency: number;
}

/** Why a job could not be claimed now, and when to look again; or that there is nothing left to run. */
export type ClaimRefusal = { refused: 'finished' } | { refused: 'busy'; retryAt: number };

export interface JobEnd {
  status: Extract<JobStatus, 'succeeded' | 'failed'>;
  result?: string;
  error?: string;
  now: number;
  expiresAt: number;
  /** A job with a webhook: until when the finishing process holds its delivery, before another may deliver it. */
  webhookHeldUntil?: number;
}

const UNFINISHED: JobStatus[] = ['queued', 'running'];

/** What a finished job keeps of its request: nothing (the column is not nullable, so that an unfinished job always has one). */
const DROPPED_REQUEST = '';

/** Ready to run: queued and due, or running under a lease its process did not renew (it died). */
const CLAIMABLE = "((status = 'queued' AND not_before <= :now) OR (status = 'running' AND lease_expires_at < :now))";

/** The tenant's jobs running under a live lease, in the jobs table as its database names it. */
const tenantRunning = (jobs: string) =>
  `(SELECT COUNT(*) FROM ${jobs} live WHERE live.tenant_id = :tenantId AND live.status = 'running' AND live.lease_expires_at >= :now)`;

/** An arbitrary constant that names the job-claim locks among PostgreSQL advisory locks. */
const CLAIM_LOCK = 7_253_102;

/** How many candidates one pick looks at; the capped tenants are left out before. */
const PICK_BATCH = 20;

/**
 * The jobs table: the one record of every job, whichever queue dispatches it. Every change of a
 * running job is a conditional UPDATE on its lease token, so that a run that lost its lease (its
 * process stalled, another replica took the job over) can never finish the job a second time.
 */
@Injectable()
export class JobRepository {
  constructor(private readonly db: Database) {}

  /**
   * Stores a queued job; its ordinal is its place in its tenant's line: one after the tenant's last
   * unfinished job, 1 when it has none. Ordinals compare across tenants, which makes the pick fair.
   * Undefined, and nothing stored, when the tenant has `maxUnfinished` jobs queued or running already.
   */
  insert(job: NewJob, maxUnfinished: number): Promise<JobEntity | undefined> {
    return this.db.transaction(async (manager) => {
      const last: { ordinal: string | number | null; unfinished: string | number } | undefined = await manager
        .createQueryBuilder(JobEntity, 'job')
        .select('MAX(job.tenant_ordinal)', 'ordinal')
        .addSelect('COUNT(*)', 'unfinished')
        .where('job.tenant_id = :tenantId AND job.status IN (:...unfinished)', { tenantId: job.tenantId, unfinished: UNFINISHED })
        .getRawOne();
      if (Number(last?.unfinished ?? 0) >= maxUnfinished) return undefined;
      const entity: JobEntity = {
        ...job,
        status: 'queued',
        webhookStatus: job.webhookUrl ? 'pending' : null,
        tenantOrdinal: Number(last?.ordinal ?? 0) + 1,
        runs: 0,
        notBefore: job.createdAt,
        leaseToken: null,
        leaseExpiresAt: null,
        result: null,
        error: null,
        startedAt: null,
        finishedAt: null,
        expiresAt: null,
      };
      await manager.insert(JobEntity, entity);
      return entity;
    });
  }

  /** The job, unless it is missing, another tenant's, or expired. */
  async find(id: string, now: number, tenantId?: string): Promise<JobEntity | undefined> {
    const job = await this.db.manager.findOneBy(JobEntity, tenantId === undefined ? { id } : { id, tenantId });
    if (!job || (job.expiresAt !== null && job.expiresAt <= now)) return undefined;
    return job;
  }

  async delete(id: string): Promise<void> {
    await this.db.manager.delete(JobEntity, { id });
  }

  /** Unfinished jobs that run before this one: the lower ordinals, then the same ordinal submitted earlier. */
  async jobsAhead(job: Pick<JobEntity, 'id' | 'tenantOrdinal' | 'createdAt'>): Promise<number> {
    return this.db.manager
      .createQueryBuilder(JobEntity, 'job')
      .where('job.status IN (:...unfinished)', { unfinished: UNFINISHED })
      .andWhere('job.id <> :id', { id: job.id })
      .andWhere(
        new Brackets((ahead) =>
          ahead
            .where('job.tenant_ordinal < :ordinal', { ordinal: job.tenantOrdinal })
            .orWhere('job.tenant_ordinal = :ordinal AND job.created_at <= :createdAt', { createdAt: job.createdAt }),
        ),
      )
      .getCount();
  }

  /** The database queue's pick: the claimable job with the lowest ordinal, of a tenant below its cap. */
  async claimNext(terms: ClaimTerms): Promise<ClaimedJob | undefined> {
    const capped = await this.cappedTenants(terms);
    const pick = this.db.manager
      .createQueryBuilder(JobEntity, 'job')
      .select(['job.id', 'job.tenantId'])
      .where(CLAIMABLE, { now: terms.now })
      .orderBy('job.tenant_ordinal', 'ASC')
      .addOrderBy('job.created_at', 'ASC')
      .addOrderBy('job.id', 'ASC')
      .limit(PICK_BATCH);
    if (capped.length > 0) pick.andWhere('job.tenant_id NOT IN (:...capped)', { capped });
    for (const candidate of await pick.getMany()) {
      const claimed = await this.tryClaim(candidate.id, candidate.tenantId, terms);
      if (claimed) return claimed;
    }
    return undefined;
  }

  /** Claims one job delivered by another queue (BullMQ), or says why not. */
  async claim(id: string, terms: ClaimTerms, busyRetryMs: number): Promise<ClaimedJob | ClaimRefusal> {
    const job = await this.db.manager.findOneBy(JobEntity, { id });
    if (!job || TERMINAL_STATUSES.includes(job.status)) return { refused: 'finished' };
    const claimed = await this.tryClaim(id, job.tenantId, terms);
    if (claimed) return claimed;
    const now = terms.now;
    if (job.status === 'queued' && job.notBefore > now) return { refused: 'busy', retryAt: job.notBefore };
    // Held by a live run (a duplicate delivery): look again once its lease would have lapsed.
    if (job.status === 'running' && job.leaseExpiresAt !== null && job.leaseExpiresAt >= now) return { refused: 'busy', retryAt: job.leaseExpiresAt + 1 };
    return { refused: 'busy', retryAt: now + busyRetryMs };
  }

  /** Extends the run's lease; false when the run no longer holds the job (cancelled, or taken over). */
  async renewLease(id: string, token: string, until: number): Promise<boolean> {
    const result = await this.db.manager.update(JobEntity, { id, leaseToken: token, status: 'running' }, { leaseExpiresAt: until });
    return result.affected === 1;
  }

  /**
   * Records the job's end if the run still holds it; false when another run or a cancellation got there first.
   * The request is dropped: nothing reads it once the job is finished, and it may weigh megabytes.
   */
  async finish(id: string, token: string, end: JobEnd): Promise<boolean> {
    const result = await this.db.manager.update(
      JobEntity,
      { id, leaseToken: token, status: 'running' },
      {
        status: end.status,
        request: DROPPED_REQUEST,
        result: end.result ?? null,
        error: end.error ?? null,
        finishedAt: end.now,
        expiresAt: end.expiresAt,
        leaseToken: null,
        // On a finished job, the lease is its webhook's: see claimUndeliveredWebhooks.
        leaseExpiresAt: end.webhookHeldUntil ?? null,
      },
    );
    return result.affected === 1;
  }

  /** Puts the job back in the queue, not to run before `notBefore` (a rate limit's wait, or a shutdown). */
  async defer(id: string, token: string, notBefore: number): Promise<boolean> {
    const result = await this.db.manager.update(
      JobEntity,
      { id, leaseToken: token, status: 'running' },
      { status: 'queued', notBefore, leaseToken: null, leaseExpiresAt: null },
    );
    return result.affected === 1;
  }

  /** Gives back a job claimed but never started (its queue was stopping): the claim does not count as a run. */
  async giveBack(id: string, token: string, now: number): Promise<boolean> {
    const result = await this.db.manager.update(
      JobEntity,
      { id, leaseToken: token, status: 'running' },
      { status: 'queued', notBefore: now, leaseToken: null, leaseExpiresAt: null, runs: () => 'runs - 1' },
    );
    return result.affected === 1;
  }

  /** Cancels the tenant's unfinished job; returns the job as it now stands, or undefined if it has none by this id. */
  async cancel(id: string, tenantId: string, now: number, expiresAt: number): Promise<{ job: JobEntity; cancelled: boolean } | undefined> {
    const result = await this.db.manager.update(
      JobEntity,
      { id, tenantId, status: In(UNFINISHED) },
      // A job cancelled by its tenant is not announced to it.
      { status: 'cancelled', request: DROPPED_REQUEST, finishedAt: now, expiresAt, leaseToken: null, leaseExpiresAt: null, webhookStatus: null },
    );
    const job = await this.find(id, now, tenantId);
    return job && { job, cancelled: result.affected === 1 };
  }

  async setWebhookStatus(id: string, status: WebhookStatus): Promise<void> {
    await this.db.manager.update(JobEntity, { id }, { webhookStatus: status });
  }

  /** Gives up this process's hold on a webhook it could not finish delivering: another process takes it over at once. */
  async releaseWebhook(id: string, now: number): Promise<void> {
    await this.db.manager.update(JobEntity, { id, webhookStatus: 'pending', status: In(TERMINAL_STATUSES) }, { leaseExpiresAt: now - 1 });
  }

  /**
   * Finished jobs whose webhook the finishing process held, and let lapse undelivered (it died):
   * each is claimed until `heldUntil` by one conditional update, so that one process delivers it.
   */
  async claimUndeliveredWebhooks(now: number, heldUntil: number, limit = 50): Promise<JobEntity[]> {
    const candidates = await this.db.manager.find(JobEntity, {
      where: { webhookStatus: 'pending', status: In(TERMINAL_STATUSES), leaseExpiresAt: LessThan(now) },
      take: limit,
    });
    const claimed: JobEntity[] = [];
    for (const job of candidates) {
      const result = await this.db.manager.update(
        JobEntity,
        { id: job.id, webhookStatus: 'pending', leaseExpiresAt: LessThan(now) },
        { leaseExpiresAt: heldUntil },
      );
      if (result.affected === 1) claimed.push(job);
    }
    return claimed;
  }

  /** Jobs whose run stopped renewing its lease (its process died); for a queue that must hand them out again. */
  async lapsedLeases(now: number, limit = 100): Promise<JobEntity[]> {
    return this.db.manager.find(JobEntity, { where: { status: 'running', leaseExpiresAt: LessThan(now) }, take: limit });
  }

  /** Queued jobs due since before `dueBefore`: a queue that should have handed them out by now may have lost them. */
  async overdueQueued(dueBefore: number, limit = 100): Promise<JobEntity[]> {
    return this.db.manager.find(JobEntity, { where: { status: 'queued', notBefore: LessThan(dueBefore) }, take: limit });
  }

  /** Deletes finished jobs past their retention; returns how many. */
  async deleteExpired(now: number): Promise<number> {
    const result = await this.db.manager.delete(JobEntity, { expiresAt: LessThanOrEqual(now), status: Not(In(UNFINISHED)) });
    return result.affected ?? 0;
  }

  private async tryClaim(id: string, tenantId: string, terms: ClaimTerms): Promise<ClaimedJob | undefined> {
    const token = randomUUID();
    return this.db.transaction(async (manager) => {
      // Claims of one tenant's jobs take turns, so that each counts the others' runs (SQLite's writes take turns anyway).
      if (this.db.dialect === 'postgres') await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CLAIM_LOCK, tenantId]);
      const result = await manager
        .createQueryBuilder()
        .update(JobEntity)
        .set({
          status: 'running',
          leaseToken: token,
          leaseExpiresAt: terms.now + terms.leaseMs,
          runs: () => 'runs + 1',
          startedAt: () => 'COALESCE(started_at, :now)',
        })
        .where(`id = :id AND ${CLAIMABLE}`)
        .andWhere(`${tenantRunning(this.db.table('jobs'))} < :cap`)
        .setParameters({ id, tenantId, now: terms.now, cap: terms.tenantConcurrency })
        .execute();
      if (result.affected !== 1) return undefined;
      return (await manager.findOneByOrFail(JobEntity, { id })) as ClaimedJob;
    });
  }

  private async cappedTenants(terms: ClaimTerms): Promise<string[]> {
    const rows: Array<{ tenant_id: string }> = await this.db.manager
      .createQueryBuilder(JobEntity, 'job')
      .select('job.tenant_id', 'tenant_id')
      .where("job.status = 'running' AND job.lease_expires_at >= :now", { now: terms.now })
      .groupBy('job.tenant_id')
      .having('COUNT(*) >= :cap', { cap: terms.tenantConcurrency })
      .getRawMany();
    return rows.map((row) => row.tenant_id);
  }
}
