import { resolveAiOptions } from '../ai-module-options';
import type { ChatPipeline } from '../chat/chat-pipeline';
import type { ChatContext, ChatResult } from '../chat/chat-request';
import { TenantQuotaExceededError, UpstreamBadRequestError, UpstreamRateLimitedError } from '../errors/ai-errors';
import { useFakeTime } from '../../test/async';
import { aChatCompletion, aChatRequest } from '../../test/factories';
import { FakeClock } from '../../test/fake-clock';
import { JobEntity } from './job.entity';
import { JobQueue } from './job-queue';
import { ClaimedJob, JobEnd, JobRepository } from './job.repository';
import { JobRunner } from './job-runner';
import { RunningJobs } from './running-jobs';
import { DeliveryOutcome, WebhookNotifier } from './webhook-notifier';
import type { ApiKeyService } from '../tenancy/api-key.service';
import type { TenantService, TenantView } from '../tenancy/tenant.service';
import type { TenantStatus } from '../tenancy/tenant.entity';
import { AiMetrics } from '../telemetry/ai-metrics';
import { listeningMetrics } from '../../test/metrics';
import { JobEvents } from './job-events';

const LEASE_MS = 30_000;

function aClaimedJob(overrides: Partial<JobEntity> = {}): ClaimedJob {
  return {
    id: 'job_1',
    tenantId: 'acme',
    keyId: 'key-1',
    status: 'running',
    model: 'gpt-4o',
    request: JSON.stringify(aChatRequest()),
    contextPolicy: null,
    webhookUrl: null,
    webhookStatus: null,
    tenantOrdinal: 1,
    runs: 1,
    notBefore: 0,
    leaseToken: 'lease-1',
    leaseExpiresAt: LEASE_MS,
    result: null,
    error: null,
    createdAt: 0,
    startedAt: 0,
    finishedAt: null,
    expiresAt: null,
    ...overrides,
  } as ClaimedJob;
}

/** The jobs table as the runner uses it: every conditional write recorded, each answering `holds`. */
class FakeJobRepository implements Pick<JobRepository, 'finish' | 'defer' | 'renewLease' | 'find' | 'setWebhookStatus'> {
  readonly finished: Array<{ id: string; token: string; end: JobEnd }> = [];
  readonly deferred: Array<{ id: string; token: string; notBefore: number }> = [];
  readonly renewals: number[] = [];
  holds = true;

  async finish(id: string, token: string, end: JobEnd): Promise<boolean> {
    this.finished.push({ id, token, end });
    return this.holds;
  }

  async defer(id: string, token: string, notBefore: number): Promise<boolean> {
    this.deferred.push({ id, token, notBefore });
    return this.holds;
  }

  async renewLease(_id: string, _token: string, until: number): Promise<boolean> {
    this.renewals.push(until);
    return this.holds;
  }

  async find(id: string): Promise<JobEntity | undefined> {
    return aClaimedJob({ id, status: 'succeeded' });
  }

  async setWebhookStatus(): Promise<void> {}
}

/** The tenant and its keys as the database holds them now. */
class FakeSubmitter implements Pick<TenantService, 'get'>, Pick<ApiKeyService, 'isLive'> {
  status: TenantStatus = 'active';
  readonly revokedKeys = new Set<string>();
  readonly keyLookups: string[] = [];

  async get(id: string): Promise<TenantView> {
    return { id, status: this.status } as TenantView;
  }

  async isLive(_tenantId: string, keyId: string): Promise<boolean> {
    this.keyLookups.push(keyId);
    return !this.revokedKeys.has(keyId);
  }
}

/** `ChatPipeline.chat` answering from a script: a result, an error, or nothing until the call's signal aborts. */
class FakeAi implements Pick<ChatPipeline, 'chat'> {
  readonly contexts: ChatContext[] = [];

  private calledBack?: () => void;
  private readonly firstCall = new Promise<void>((resolve) => (this.calledBack = resolve));

  constructor(private readonly answer: ChatResult | Error | 'hang') {}

  /** Resolves once the runner has called, past its checks of the job's tenant and key. */
  called(): Promise<void> {
    return this.firstCall;
  }

  async chat(_request: unknown, context: ChatContext): Promise<ChatResult> {
    this.contexts.push(context);
    this.calledBack?.();
    if (this.answer === 'hang') {
      return new Promise((_resolve, reject) => context.signal!.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    }
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
}

describe(JobRunner.name, () => {
  const clock = new FakeClock(1_000_000);
  let repository: FakeJobRepository;
  let running: RunningJobs;
  let webhooks: Array<{ url: string; jobId: string }>;
  let metrics: AiMetrics;
  let submitter: FakeSubmitter;

  beforeEach(() => {
    repository = new FakeJobRepository();
    running = new RunningJobs();
    webhooks = [];
    submitter = new FakeSubmitter();
  });
  afterEach(() => jest.useRealTimers());

  function aRunner(ai: FakeAi, jobs: Record<string, unknown> = {}, delivery: DeliveryOutcome = 'delivered'): JobRunner {
    const options = resolveAiOptions({
      upstream: { apiKey: 'sk-test' },
      jobs: { leaseMs: LEASE_MS, maxRuns: 3, retentionMs: 60_000, describeError: (error) => ({ message: (error as Error).message, type: 't', code: 'c', param: null }), ...jobs },
    });
    const notifier = { deliver: async (url: string, _payload: unknown, jobId: string) => (webhooks.push({ url, jobId }), delivery), stop: () => undefined };
    const queue: JobQueue = { enqueue: async () => undefined, remove: async () => undefined, start: async () => undefined, stop: async () => undefined };
    const events = new JobEvents();
    metrics = listeningMetrics(options.telemetry, { jobs: events });
    return new JobRunner(
      ai as unknown as ChatPipeline,
      repository as unknown as JobRepository,
      queue,
      running,
      notifier as unknown as WebhookNotifier,
      submitter as unknown as TenantService,
      submitter as unknown as ApiKeyService,
      events,
      clock,
      options.jobs,
    );
  }

  const aResult = (): ChatResult => ({ completion: aChatCompletion(), model: 'gpt-4o', attempts: 1, rateLimits: {}, context: { action: 'none', promptTokens: 5, removedMessages: 0 } }) as ChatResult;

  it('should run the job through ChatPipeline.chat as its tenant, with a request id of the job and run, deferring retry-after', async () => {
    const ai = new FakeAi(aResult());

    await aRunner(ai).run(aClaimedJob({ runs: 2, contextPolicy: 'trim' }));

    expect(ai.contexts).toEqual([
      expect.objectContaining({ tenantId: 'acme', keyId: 'key-1', requestId: 'job_1:2', contextPolicy: 'trim', deferRetryAfter: true, signal: expect.any(AbortSignal) }),
    ]);
  });

  it('should not count the run against the tenant’s requests per minute: its submit was counted', async () => {
    const ai = new FakeAi(aResult());

    await aRunner(ai).run(aClaimedJob());

    expect(ai.contexts[0].requestAlreadyCounted).toBe(true);
  });

  it('should fail, without calling, a job whose key was revoked since its submit', async () => {
    const ai = new FakeAi(aResult());
    submitter.revokedKeys.add('key-1');

    const outcome = await aRunner(ai).run(aClaimedJob());

    expect(outcome).toEqual({ kind: 'done' });
    expect(ai.contexts).toEqual([]);
    expect(repository.finished[0].end.status).toBe('failed');
    expect(JSON.parse(repository.finished[0].end.error!)).toEqual({ message: expect.stringContaining('revoked'), type: 'invalid_request_error', code: 'api_key_revoked', param: null });
  });

  it('should fail, without calling, a job whose tenant was disabled since its submit, as the gateway describes that error', async () => {
    const ai = new FakeAi(aResult());
    submitter.status = 'disabled';

    await aRunner(ai).run(aClaimedJob());

    expect(ai.contexts).toEqual([]);
    expect(JSON.parse(repository.finished[0].end.error!)).toMatchObject({ code: 'c', message: expect.stringContaining("'acme' is disabled") });
  });

  it('should run a job submitted without a key (through the library) while its tenant is active', async () => {
    const ai = new FakeAi(aResult());

    await aRunner(ai).run(aClaimedJob({ keyId: null }));

    expect(ai.contexts).toHaveLength(1);
    expect(submitter.keyLookups).toEqual([]);
  });

  it('should measure the wait from submit to the first run, and count the jobs it settles by status', async () => {
    const runner = aRunner(new FakeAi(aResult()));
    await runner.run(aClaimedJob({ runs: 1, createdAt: 1_000_000 - 4_000 }));
    await runner.run(aClaimedJob({ id: 'job_2', runs: 2, createdAt: 0 }));

    const wait = (await metrics.jobWait.get()).values;
    expect(wait.find((sample) => sample.metricName === 'tollgate_job_wait_seconds_sum')?.value).toBe(4);
    expect(wait.find((sample) => sample.metricName === 'tollgate_job_wait_seconds_count')?.value).toBe(1);
    expect((await metrics.jobsFinished.get()).values).toEqual([expect.objectContaining({ labels: { status: 'succeeded' }, value: 2 })]);
  });

  it('should record the completion under the run’s lease and keep it for the retention', async () => {
    const outcome = await aRunner(new FakeAi(aResult())).run(aClaimedJob());

    expect(outcome).toEqual({ kind: 'done' });
    expect(repository.finished).toEqual([
      { id: 'job_1', token: 'lease-1', end: { status: 'succeeded', result: JSON.stringify(aChatCompletion()), now: 1_000_000, expiresAt: 1_060_000 } },
    ]);
  });

  it('should put a rate-limited job back in the queue for the wait the error names', async () => {
    const outcome = await aRunner(new FakeAi(new UpstreamRateLimitedError({ retryAfterMs: 2_500 }))).run(aClaimedJob());

    expect(outcome).toEqual({ kind: 'deferred', until: 1_002_500 });
    expect(repository.deferred).toEqual([{ id: 'job_1', token: 'lease-1', notBefore: 1_002_500 }]);
    expect(repository.finished).toEqual([]);
  });

  it('should fail, not defer, a job over its tenant’s quota, although the error says when the quota renews', async () => {
    const outcome = await aRunner(new FakeAi(new TenantQuotaExceededError('requests_per_day', 3_600_000))).run(aClaimedJob());

    expect(outcome).toEqual({ kind: 'done' });
    expect(repository.deferred).toEqual([]);
    expect(repository.finished[0].end).toMatchObject({ status: 'failed' });
    expect(JSON.parse(repository.finished[0].end.error!)).toMatchObject({ code: 'c', message: expect.stringContaining('requests your plan allows') });
  });

  it('should fail a rate-limited job that has used its runs', async () => {
    await aRunner(new FakeAi(new UpstreamRateLimitedError({ retryAfterMs: 1_000 }))).run(aClaimedJob({ runs: 3 }));

    expect(repository.deferred).toEqual([]);
    expect(repository.finished[0].end.status).toBe('failed');
  });

  it('should give up, without calling, a job claimed more times than maxRuns (its runs died with their workers)', async () => {
    const ai = new FakeAi(aResult());

    await aRunner(ai).run(aClaimedJob({ runs: 4 }));

    expect(ai.contexts).toEqual([]);
    expect(repository.finished[0].end.status).toBe('failed');
    expect(JSON.parse(repository.finished[0].end.error!)).toMatchObject({ code: 'internal_error', message: expect.stringContaining('3 times') });
  });

  it('should not let a renewal refused for an earlier run interrupt a later run of the same job', () => {
    const later = running.start('job_1', 'lease-2');

    running.interrupt('job_1', 'lease_lost', 'lease-1');

    expect(later.aborted).toBe(false);
  });

  it('should fail a job the upstream refuses', async () => {
    await aRunner(new FakeAi(new UpstreamBadRequestError('bad temperature'))).run(aClaimedJob());

    expect(repository.finished[0].end).toMatchObject({ status: 'failed' });
  });

  it('should call the webhook once the job is settled, and not when another run settled it first', async () => {
    const runner = aRunner(new FakeAi(aResult()));
    await runner.run(aClaimedJob({ id: 'job_settled', webhookUrl: 'https://hooks.example.com/x' }));
    repository.holds = false;
    await runner.run(aClaimedJob({ id: 'job_taken_over', webhookUrl: 'https://hooks.example.com/x' }));
    await runner.shutdown();

    expect(webhooks).toEqual([{ url: 'https://hooks.example.com/x', jobId: 'job_settled' }]);
  });

  it.each([
    ['delivered', 'delivered'],
    ['failed', 'failed'],
    ['refused', 'failed'],
  ] as const)('should record a webhook %s as %s, and count it by its outcome', async (outcome, status) => {
    const setWebhookStatus = jest.spyOn(repository, 'setWebhookStatus');
    const runner = aRunner(new FakeAi(aResult()), {}, outcome);

    await runner.run(aClaimedJob({ webhookUrl: 'https://hooks.example.com/x' }));
    await runner.shutdown();

    expect(setWebhookStatus).toHaveBeenCalledWith('job_1', status);
    expect((await metrics.jobWebhooks.get()).values).toEqual([expect.objectContaining({ labels: { outcome }, value: 1 })]);
  });

  it('should abort the call of a cancelled job and write nothing', async () => {
    const ai = new FakeAi('hang');
    const run = aRunner(ai).run(aClaimedJob());
    await ai.called();

    running.interrupt('job_1', 'cancelled');

    expect(await run).toEqual({ kind: 'done' });
    expect(repository.finished).toEqual([]);
    expect(repository.deferred).toEqual([]);
  });

  it('should put a job cut short by a shutdown back in the queue, due at once', async () => {
    const ai = new FakeAi('hang');
    const run = aRunner(ai).run(aClaimedJob());
    await ai.called();

    running.interruptAll('shutdown');

    expect(await run).toEqual({ kind: 'deferred', until: 1_000_000 });
    expect(repository.deferred).toEqual([{ id: 'job_1', token: 'lease-1', notBefore: 1_000_000 }]);
  });

  it('should renew the lease while the call runs, and abort the call once a renewal is refused', async () => {
    useFakeTime();
    const run = aRunner(new FakeAi('hang')).run(aClaimedJob());

    await jest.advanceTimersByTimeAsync(LEASE_MS / 3);
    expect(repository.renewals).toEqual([1_000_000 + LEASE_MS]);
    repository.holds = false;
    await jest.advanceTimersByTimeAsync(LEASE_MS / 3);

    expect(await run).toEqual({ kind: 'done' });
    expect(repository.finished).toEqual([]);
  });
});
