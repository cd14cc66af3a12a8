import { resolveAiOptions } from '../ai-module-options';
import { ModelRegistry } from '../context/model-registry';
import { JobNotFoundError, ModelNotAllowedError, TenantRateLimitedError, WebhookNotAllowedError } from '../errors/ai-errors';
import { RedisConnection } from '../limits/redis-connection';
import { TenantLimiter } from '../limits/tenant-limiter';
import { Governance } from '../tenancy/governance';
import { TenantLimits, UNLIMITED } from '../tenancy/tenant-limits';
import { aChatRequest } from '../../test/factories';
import { FakeClock } from '../../test/fake-clock';
import { JobEntity } from './job.entity';
import { JobQueue } from './job-queue';
import { JobRepository, NewJob } from './job.repository';
import { JobsService } from './jobs.service';
import { RunningJobs } from './running-jobs';
import { WebhookNotifier } from './webhook-notifier';

/** The jobs table in memory, for what JobsService asks of it. */
class FakeJobRepository implements Pick<JobRepository, 'insert' | 'delete' | 'jobsAhead' | 'find' | 'cancel'> {
  readonly jobs = new Map<string, JobEntity>();
  ahead = 0;

  async insert(job: NewJob): Promise<JobEntity> {
    const entity: JobEntity = {
      ...job,
      status: 'queued',
      webhookStatus: null,
      tenantOrdinal: 1,
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
    this.jobs.set(job.id, entity);
    return entity;
  }

  async delete(id: string): Promise<void> {
    this.jobs.delete(id);
  }

  async jobsAhead(): Promise<number> {
    return this.ahead;
  }

  async find(id: string, _now: number, tenantId?: string): Promise<JobEntity | undefined> {
    const job = this.jobs.get(id);
    return job && job.tenantId === tenantId ? job : undefined;
  }

  async cancel(id: string, tenantId: string): Promise<{ job: JobEntity; cancelled: boolean } | undefined> {
    const job = await this.find(id, 0, tenantId);
    if (!job) return undefined;
    const cancelled = job.status === 'queued' || job.status === 'running';
    if (cancelled) job.status = 'cancelled';
    return { job, cancelled };
  }
}

/** A queue that records what it is given, or refuses it. */
class FakeQueue implements JobQueue {
  readonly enqueued: string[] = [];
  readonly removed: string[] = [];
  refuse?: Error;

  async enqueue(job: Pick<JobEntity, 'id'>): Promise<void> {
    if (this.refuse) throw this.refuse;
    this.enqueued.push(job.id);
  }

  async remove(jobId: string): Promise<void> {
    this.removed.push(jobId);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}

describe(JobsService.name, () => {
  let repository: FakeJobRepository;
  let queue: FakeQueue;
  let running: RunningJobs;

  beforeEach(() => {
    repository = new FakeJobRepository();
    queue = new FakeQueue();
    running = new RunningJobs();
  });

  function aService(limits: Partial<TenantLimits> = {}): JobsService {
    const options = resolveAiOptions({ upstream: { apiKey: 'sk-test' }, jobs: { concurrency: 2, webhookAllowedHosts: ['hooks.example.com'], webhookSecret: 'whsec-0123456789abcdef' } });
    const governance = {
      tenant: async (id: string) => ({ id, limits: { ...UNLIMITED, ...limits } }),
      assertModelAllowed: Governance.prototype.assertModelAllowed,
    } as unknown as Governance;
    const webhooks = new WebhookNotifier(options.jobs, async () => ({ status: 200 }), new FakeClock(), () => 0.5, async () => []);
    const clock = new FakeClock();
    const limiter = new TenantLimiter({ limitStore: () => undefined } as unknown as RedisConnection, clock, options.tenancy);
    return new JobsService(repository as unknown as JobRepository, queue, running, webhooks, governance, limiter, new ModelRegistry(options.models), clock, options.jobs);
  }

  it('should store the job, queue it, and estimate its wait from the jobs ahead and the recent pace', async () => {
    repository.ahead = 5;

    const job = await aService().submit(aChatRequest(), { tenantId: 'acme', webhookUrl: 'https://hooks.example.com/x' });

    expect(job).toMatchObject({ object: 'chat.completion.job', status: 'queued', model: 'gpt-4o', webhook_url: 'https://hooks.example.com/x' });
    expect(queue.enqueued).toEqual([job.id]);
    // 5 ahead on 2 workers: its turn comes in the third round of ~2 s runs.
    expect(job.estimated_wait_seconds).toBe(6);
  });

  it('should refuse a webhook off the allow-list before storing anything', async () => {
    await expect(aService().submit(aChatRequest(), { tenantId: 'acme', webhookUrl: 'https://evil.example.com/x' })).rejects.toBeInstanceOf(WebhookNotAllowedError);

    expect(repository.jobs.size).toBe(0);
  });

  it('should count each submit as one of the tenant’s requests per minute, and refuse one over before storing anything', async () => {
    const service = aService({ requestsPerMinute: 2 });
    await service.submit(aChatRequest(), { tenantId: 'acme' });
    await service.submit(aChatRequest(), { tenantId: 'acme' });

    const refused = await service.submit(aChatRequest(), { tenantId: 'acme' }).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(TenantRateLimitedError);
    expect(refused).toMatchObject({ limit: 'requests_per_minute', retryAfterMs: expect.any(Number) });
    expect(repository.jobs.size).toBe(2);
  });

  it('should refuse a model outside the tenant’s plan at submit time', async () => {
    await expect(aService({ allowedModels: ['gpt-4o-mini'] }).submit(aChatRequest({ model: 'gpt-4o' }), { tenantId: 'acme' })).rejects.toBeInstanceOf(ModelNotAllowedError);

    expect(repository.jobs.size).toBe(0);
  });

  it('should accept a job the queue could not take, keeping it for the queue’s recovery to dispatch', async () => {
    queue.refuse = new Error('Redis is down');

    const job = await aService().submit(aChatRequest(), { tenantId: 'acme' });

    expect(job.status).toBe('queued');
    expect([...repository.jobs.keys()]).toEqual([job.id]);
  });

  it('should not find another tenant’s job, to read or to cancel', async () => {
    const service = aService();
    const { id } = await service.submit(aChatRequest(), { tenantId: 'acme' });

    await expect(service.get(id, 'globex')).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(service.cancel(id, 'globex')).rejects.toBeInstanceOf(JobNotFoundError);
    expect((await service.get(id, 'acme')).status).toBe('queued');
  });

  it('should withdraw a cancelled job from the queue and stop its run in this process', async () => {
    const service = aService();
    const { id } = await service.submit(aChatRequest(), { tenantId: 'acme' });
    const signal = running.start(id, 'lease-1');

    const job = await service.cancel(id, 'acme');

    expect(job.status).toBe('cancelled');
    expect(queue.removed).toEqual([id]);
    expect(signal.aborted).toBe(true);
  });
});
