import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { AiModuleOptions } from '../../src/ai-module-options';
import { JobNotFoundError, TooManyJobsError } from '../../src/errors/ai-errors';
import { BULLMQ_QUEUE_NAME, BullMqJobQueue } from '../../src/jobs/bullmq-job.queue';
import { JobQueue } from '../../src/jobs/job-queue';
import { ChatCompletionJob } from '../../src/jobs/job-types';
import { JobRepository } from '../../src/jobs/job.repository';
import { JobRunner } from '../../src/jobs/job-runner';
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from '../../src/jobs/webhook-notifier';
import { eventually } from '../async';
import { FakeClock } from '../fake-clock';
import { aChatCompletion, aChatRequest, aRateLimitError } from '../factories';
import { fail, FakeUpstreamClient, respond } from '../fake-upstream-client';
import { startWebhookReceiver } from '../webhook-receiver';
import { aTenant, query, Replica, ReplicaOptions, startReplica } from './replica';
import { describeEachDatabase, describeWithRedis, postgresDatabases, sqliteDatabases, TestDatabases } from './services';

const LEASE_MS = 30_000;
const WEBHOOK_SECRET = 'whsec-it-0123456789abcdef';

/** A request whose one message names who sent it, so that the upstream's call order shows whose job ran when. */
const aRequestFrom = (sender: string) => aChatRequest({ messages: [{ role: 'user', content: sender }] });

/**
 * One body for both queues: the jobs table polled in process (SQLite and PostgreSQL), and BullMQ
 * on Redis. Each test gets a fresh database and, on Redis, a queue prefix of its own.
 */
function jobsSuite(databases: TestDatabases, redisUrl?: string): void {
  const started: Replica[] = [];
  let options: ReplicaOptions;

  beforeEach(async () => {
    options = {
      clock: new FakeClock(),
      database: { url: await databases.fresh() },
      redis: redisUrl ? { url: redisUrl } : undefined,
      jobs: { queuePrefix: `tg-it-${randomBytes(4).toString('hex')}`, pollIntervalMs: 20, leaseMs: LEASE_MS, shutdownGraceMs: 5_000 },
    };
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((replica) => replica.close().catch(() => undefined)));
    if (redisUrl) {
      const queue = new Queue(BULLMQ_QUEUE_NAME, { connection: { url: redisUrl }, prefix: options.jobs!.queuePrefix });
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  /** A replica on the test's database (and Redis prefix); `workers: false` only submits. */
  async function replica(jobs: Partial<AiModuleOptions['jobs']> & { workers?: boolean } = {}): Promise<Replica> {
    const { workers = true, ...rest } = jobs;
    const started_ = await startReplica({ ...options, jobs: { ...options.jobs, ...rest, enabled: workers } });
    started_.upstream.always(respond(aChatCompletion(), { afterMs: 10 }));
    started.push(started_);
    return started_;
  }

  async function finished(replica: Replica, jobId: string, tenantId: string): Promise<ChatCompletionJob> {
    let job: ChatCompletionJob | undefined;
    await eventually(async () => {
      job = await replica.ai.getJob(jobId, tenantId);
      expect(['succeeded', 'failed', 'cancelled']).toContain(job.status);
    }, 10_000);
    return job!;
  }

  const sendersInCallOrder = (...replicas: Replica[]) =>
    replicas.flatMap((each) => each.upstream.calls.map((call) => call.body?.messages[0].content as string));

  it('should run a submitted job through the guarded path and keep its completion for its tenant only', async () => {
    const worker = await replica();
    const tenant = await aTenant(worker);
    const other = await aTenant(worker);

    const submitted = await worker.ai.submit(aRequestFrom('a'), { tenantId: tenant.id });
    const job = await finished(worker, submitted.id, tenant.id);

    expect(submitted).toMatchObject({ status: 'queued', object: 'chat.completion.job' });
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, completion: aChatCompletion() });
    await expect(worker.ai.getJob(submitted.id, other.id)).rejects.toBeInstanceOf(JobNotFoundError);
    await worker.governance.drain();
    const ledger = await query(worker.database, 'SELECT request_id, outcome FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenant.id]);
    expect(ledger).toEqual([{ request_id: `${submitted.id}:1`, outcome: 'success' }]);
  });

  it('should cancel a queued job so that it never runs', async () => {
    const producer = await replica({ workers: false });
    const tenant = await aTenant(producer);
    const { id } = await producer.ai.submit(aRequestFrom('cancelled'), { tenantId: tenant.id });

    const cancelled = await producer.ai.cancelJob(id, tenant.id);
    const worker = await replica();
    const { id: next } = await producer.ai.submit(aRequestFrom('next'), { tenantId: tenant.id });
    await finished(worker, next, tenant.id);

    expect(cancelled.status).toBe('cancelled');
    expect((await worker.ai.getJob(id, tenant.id)).status).toBe('cancelled');
    expect(sendersInCallOrder(worker)).toEqual(['next']);
  });

  it('should run one tenant’s single job among the first, however many another tenant queued before it', async () => {
    const producer = await replica({ workers: false });
    const busy = await aTenant(producer);
    const quiet = await aTenant(producer);
    const busyJobs = [];
    for (let i = 0; i < 30; i++) busyJobs.push(await producer.ai.submit(aRequestFrom(`busy-${i}`), { tenantId: busy.id }));
    const quietJob = await producer.ai.submit(aRequestFrom('quiet'), { tenantId: quiet.id });

    const worker = await replica({ concurrency: 1 });
    await finished(worker, quietJob.id, quiet.id);
    await finished(worker, busyJobs.at(-1)!.id, busy.id);

    const order = sendersInCallOrder(worker);
    expect(order).toHaveLength(31);
    // FIFO would run it last (31st); by per-tenant ordinal it ties with the busy tenant's first job.
    expect(order.indexOf('quiet')).toBeLessThanOrEqual(1);
    expect(order.filter((sender) => sender.startsWith('busy-'))).toEqual(busyJobs.map((_job, i) => `busy-${i}`));
  });

  it('should give a job its place in its tenant’s line, whatever other tenants queued', async () => {
    const producer = await replica({ workers: false });
    const repository = producer.moduleRef.get(JobRepository);
    const busy = await aTenant(producer);
    const quiet = await aTenant(producer);
    const busyJobs = [];
    for (let i = 0; i < 3; i++) busyJobs.push(await producer.ai.submit(aRequestFrom(`busy-${i}`), { tenantId: busy.id }));
    await producer.ai.cancelJob(busyJobs[0].id, busy.id);

    const quietJob = await producer.ai.submit(aRequestFrom('quiet'), { tenantId: quiet.id });
    const nextBusyJob = await producer.ai.submit(aRequestFrom('busy-3'), { tenantId: busy.id });

    const ordinal = async (id: string) => (await repository.find(id, producer.clock.now()))!.tenantOrdinal;
    expect(await Promise.all(busyJobs.map((job) => ordinal(job.id)))).toEqual([1, 2, 3]);
    expect(await ordinal(quietJob.id)).toBe(1);
    // After its last unfinished job, not after its count of them: a tenant's own jobs keep their order.
    expect(await ordinal(nextBusyJob.id)).toBe(4);
  });

  it('should run no more of one tenant’s jobs at once than its cap', async () => {
    const worker = await replica({ concurrency: 4, tenantConcurrency: 2 });
    worker.upstream.always(respond(aChatCompletion(), { afterMs: 60 }));
    const inFlight = trackInFlight(worker.upstream);
    const tenant = await aTenant(worker);
    const ids = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => (await worker.ai.submit(aRequestFrom(`job-${i}`), { tenantId: tenant.id })).id));

    await Promise.all(ids.map((id) => finished(worker, id, tenant.id)));

    const jobs = await Promise.all(ids.map((id) => worker.ai.getJob(id, tenant.id)));
    expect(jobs.map((job) => job.status)).toEqual(ids.map(() => 'succeeded'));
    expect(worker.upstream.calls).toHaveLength(6);
    expect(inFlight.most).toBe(2);
  });

  it('should fail the job of a tenant over its quota with tenant_quota_exceeded, and not run it again', async () => {
    const worker = await replica();
    const tenant = await aTenant(worker, { requestsPerDay: 1 });
    const first = await worker.ai.submit(aRequestFrom('first'), { tenantId: tenant.id });
    await finished(worker, first.id, tenant.id);

    const second = await worker.ai.submit(aRequestFrom('second'), { tenantId: tenant.id });
    const job = await finished(worker, second.id, tenant.id);

    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'tenant_quota_exceeded' } });
    expect(worker.upstream.calls).toHaveLength(1);
  });

  it('should put a job the upstream rate-limits back in the queue for the wait it names, then run it again', async () => {
    const worker = await replica();
    worker.upstream.always(fail(aRateLimitError({ 'retry-after-ms': '300' })), respond(aChatCompletion()));
    const tenant = await aTenant(worker);

    const { id } = await worker.ai.submit(aRequestFrom('limited'), { tenantId: tenant.id });
    await eventually(async () => expect((await worker.ai.getJob(id, tenant.id)).attempts).toBe(1));
    await eventually(async () => expect((await worker.ai.getJob(id, tenant.id)).status).toBe('queued'));
    // One upstream call: the wait is not slept inside the run.
    expect(worker.upstream.calls).toHaveLength(1);
    worker.clock.advance(300);
    const job = await finished(worker, id, tenant.id);

    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(worker.upstream.calls).toHaveLength(2);
  });

  it('should lose no job and run none twice when a replica stops mid-queue and another takes over', async () => {
    const first = await replica({ concurrency: 2 });
    first.upstream.always(respond(aChatCompletion(), { afterMs: 80 }));
    const tenant = await aTenant(first, { requestsPerDay: null });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await first.ai.submit(aRequestFrom(`job-${i}`), { tenantId: tenant.id })).id);
    await eventually(() => expect(first.upstream.calls.length).toBeGreaterThanOrEqual(1));

    await first.close();
    const second = await replica({ concurrency: 2 });
    const jobs = await Promise.all(ids.map((id) => finished(second, id, tenant.id)));

    expect(jobs.map((job) => job.status)).toEqual(ids.map(() => 'succeeded'));
    expect(jobs.map((job) => job.attempts)).toEqual(ids.map(() => 1));
    expect(first.upstream.calls.length + second.upstream.calls.length).toBe(ids.length);
    expect(first.upstream.calls.length).toBeLessThan(ids.length);
    await second.governance.drain();
    const ledger = await query<{ request_id: string }>(second.database, "SELECT request_id FROM tollgate_usage_ledger WHERE tenant_id = $1 AND outcome = 'success'", [tenant.id]);
    expect(ledger.map((row) => row.request_id).sort()).toEqual(ids.map((id) => `${id}:1`).sort());
  });

  // The database queue claims in a loop: a claim that lands while its queue stops is given straight back.
  if (!redisUrl) {
    it('should not count a claim given back by a stopping queue as a run', async () => {
      const first = await replica();
      const repository = first.moduleRef.get(JobRepository);
      const claimNext = repository.claimNext.bind(repository);
      let claiming!: () => void;
      const claimStarted = new Promise<void>((resolve) => (claiming = resolve));
      let letClaimFinish!: () => void;
      const gate = new Promise<void>((resolve) => (letClaimFinish = resolve));
      jest.spyOn(repository, 'claimNext').mockImplementation(async (terms) => {
        claiming();
        await gate;
        return claimNext(terms);
      });
      const tenant = await aTenant(first);
      const { id } = await first.ai.submit(aRequestFrom('late-claim'), { tenantId: tenant.id });

      await claimStarted;
      const closing = first.close();
      letClaimFinish();
      await closing;
      const second = await replica();
      const job = await finished(second, id, tenant.id);

      expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(first.upstream.calls).toHaveLength(0);
    });
  }

  it('should run again a job whose worker died, once its lease lapses, and settle it once', async () => {
    const producer = await replica({ workers: false });
    const tenant = await aTenant(producer);
    const { id } = await producer.ai.submit(aRequestFrom('orphan'), { tenantId: tenant.id });
    const repository = producer.moduleRef.get(JobRepository);
    // A worker claims the job, then its process dies: it never renews the lease nor finishes.
    const dead = await repository.claimNext({ now: producer.clock.now(), leaseMs: LEASE_MS, tenantConcurrency: 2 });
    expect(dead?.id).toBe(id);

    producer.clock.advance(LEASE_MS + 1);
    const worker = await replica();
    const job = await finished(worker, id, tenant.id);
    const lateFinish = await repository.finish(id, dead!.leaseToken, { status: 'failed', error: '{}', now: producer.clock.now(), expiresAt: producer.clock.now() + 60_000 });

    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(lateFinish).toBe(false);
    expect((await worker.ai.getJob(id, tenant.id)).status).toBe('succeeded');
    expect(worker.upstream.calls).toHaveLength(1);
  });

  it('should deliver the webhook of a job whose process died after settling it, once, from another replica', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const webhooks = {
        webhookAllowedHosts: ['127.0.0.1'],
        webhookAllowedPorts: [receiver.port],
        webhookAllowHttp: true,
        webhookAllowPrivateAddresses: true,
        webhookSecret: WEBHOOK_SECRET,
      };
      const producer = await replica({ workers: false, ...webhooks });
      const tenant = await aTenant(producer);
      const { id } = await producer.ai.submit(aRequestFrom('hooked'), { tenantId: tenant.id, webhookUrl: receiver.url });
      const repository = producer.moduleRef.get(JobRepository);
      // A worker runs the job and settles it, holding its webhook, then dies before delivering it.
      const now = producer.clock.now();
      const run = await repository.claimNext({ now, leaseMs: LEASE_MS, tenantConcurrency: 2 });
      await repository.finish(id, run!.leaseToken, { status: 'succeeded', result: JSON.stringify(aChatCompletion()), now, expiresAt: now + 600_000, webhookHeldUntil: now + 1_000 });
      const worker = await replica(webhooks);
      const runner = worker.moduleRef.get(JobRunner);

      const whileHeld = await runner.redeliverWebhooks();
      producer.clock.advance(1_001);
      const afterLapse = await runner.redeliverWebhooks();
      await eventually(async () => expect((await worker.ai.getJob(id, tenant.id)).webhook_status).toBe('delivered'));
      const afterDelivery = await runner.redeliverWebhooks();

      expect([whileHeld, afterLapse, afterDelivery]).toEqual([0, 1, 0]);
      expect(receiver.received).toHaveLength(1);
      const [{ headers, rawBody: body }] = receiver.received;
      const signature = String(headers[WEBHOOK_SIGNATURE_HEADER]);
      expect(verifyWebhookSignature(signature, body, WEBHOOK_SECRET, Math.floor(producer.clock.now() / 1000))).toBe(true);
      expect(JSON.parse(body)).toMatchObject({ id, status: 'succeeded' });
    } finally {
      await receiver.close();
    }
  });

  // Only BullMQ dispatches through something that can lose a dispatch.
  if (redisUrl) {
    it('should dispatch again a queued job whose BullMQ dispatch was lost, once it has been due for a lease period', async () => {
      const producer = await replica({ workers: false });
      const tenant = await aTenant(producer);
      const { id } = await producer.ai.submit(aRequestFrom('stranded'), { tenantId: tenant.id });
      const queue = new Queue(BULLMQ_QUEUE_NAME, { connection: { url: redisUrl }, prefix: options.jobs!.queuePrefix });
      await queue.remove(id);
      await queue.close();
      const worker = await replica();
      const bullmq = worker.moduleRef.get<BullMqJobQueue>(JobQueue);

      await bullmq.redispatchStranded();
      expect((await worker.ai.getJob(id, tenant.id)).status).toBe('queued');
      worker.clock.advance(LEASE_MS + 1);
      await bullmq.redispatchStranded();

      expect(await finished(worker, id, tenant.id)).toMatchObject({ status: 'succeeded' });
      expect(worker.upstream.calls).toHaveLength(1);
    });
  }

  it('should refuse a submit beyond the tenant’s unfinished jobs with too_many_jobs, storing nothing, and take one once a job is done', async () => {
    const producer = await replica({ workers: false, maxUnfinishedPerTenant: 2 });
    const tenant = await aTenant(producer);
    const other = await aTenant(producer);
    const first = await producer.ai.submit(aRequestFrom('1'), { tenantId: tenant.id });
    await producer.ai.submit(aRequestFrom('2'), { tenantId: tenant.id });

    await expect(producer.ai.submit(aRequestFrom('3'), { tenantId: tenant.id })).rejects.toBeInstanceOf(TooManyJobsError);
    await producer.ai.submit(aRequestFrom('other'), { tenantId: other.id });
    const stored = await query<{ n: string | number }>(producer.database, 'SELECT COUNT(*) AS n FROM tollgate_jobs WHERE tenant_id = $1', [tenant.id]);
    expect(Number(stored[0].n)).toBe(2);
    await producer.ai.cancelJob(first.id, tenant.id);
    await expect(producer.ai.submit(aRequestFrom('3'), { tenantId: tenant.id })).resolves.toMatchObject({ status: 'queued' });
  });

  it('should fail, without calling the upstream, a job whose key another replica revoked after the submit', async () => {
    const producer = await replica({ workers: false });
    const tenant = await aTenant(producer);
    const revoked = await producer.keys.issue(tenant.id);
    const live = await producer.keys.issue(tenant.id);
    const { id: ofRevoked } = await producer.ai.submit(aRequestFrom('revoked'), { tenantId: tenant.id, keyId: revoked.id });
    const { id: ofLive } = await producer.ai.submit(aRequestFrom('live'), { tenantId: tenant.id, keyId: live.id });

    await producer.keys.revoke(tenant.id, revoked.id);
    const worker = await replica();

    expect(await finished(worker, ofRevoked, tenant.id)).toMatchObject({ status: 'failed', error: { code: 'api_key_revoked' } });
    expect(await finished(worker, ofLive, tenant.id)).toMatchObject({ status: 'succeeded' });
    expect(sendersInCallOrder(worker)).toEqual(['live']);
  });

  it('should keep the request of an unfinished job only', async () => {
    const producer = await replica({ workers: false });
    const tenant = await aTenant(producer);
    const { id } = await producer.ai.submit(aRequestFrom('kept until done'), { tenantId: tenant.id });
    const storedRequest = async () => (await query<{ request: string }>(producer.database, 'SELECT request FROM tollgate_jobs WHERE id = $1', [id]))[0].request;
    const whileUnfinished = await storedRequest();

    await finished(await replica(), id, tenant.id);

    expect(JSON.parse(whileUnfinished)).toMatchObject({ messages: [{ content: 'kept until done' }] });
    expect(await storedRequest()).toBe('');
  });

  it('should delete a finished job once its retention is over', async () => {
    const worker = await replica({ retentionMs: 60_000 });
    const tenant = await aTenant(worker);
    const { id } = await worker.ai.submit(aRequestFrom('kept'), { tenantId: tenant.id });
    await finished(worker, id, tenant.id);

    worker.clock.advance(60_001);

    await expect(worker.ai.getJob(id, tenant.id)).rejects.toBeInstanceOf(JobNotFoundError);
    expect(await worker.moduleRef.get(JobRepository).deleteExpired(worker.clock.now())).toBe(1);
  });
}

/** Counts the upstream calls in flight at once. */
function trackInFlight(upstream: FakeUpstreamClient): { most: number } {
  const stats = { now: 0, most: 0 };
  const create = upstream.createChatCompletion.bind(upstream);
  upstream.createChatCompletion = async (body, options) => {
    stats.most = Math.max(stats.most, ++stats.now);
    try {
      return await create(body, options);
    } finally {
      stats.now--;
    }
  };
  return stats;
}

describeEachDatabase('Jobs on the database queue', (databases) => jobsSuite(databases));

describeWithRedis('Jobs on BullMQ', (redisUrl) => {
  if (process.env.TEST_DATABASE_URL) {
    describe('with PostgreSQL', () => jobsSuite(postgresDatabases(process.env.TEST_DATABASE_URL!), redisUrl));
  } else {
    describe('with SQLite', () => jobsSuite(sqliteDatabases(), redisUrl));
  }
});
