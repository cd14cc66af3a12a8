import { AiService, ChatCompletionJob, UNLIMITED, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from '@tollgate/ai';
import { ApiKeyService, Governance, Database } from '@tollgate/ai/tenancy';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BULLMQ_QUEUE_NAME } from '../libs/ai/src/jobs/bullmq-job.queue';
import { query } from '../libs/ai/test/integration/replica';
import { describeWithPostgres, describeWithRedis, postgresDatabases } from '../libs/ai/test/integration/services';
import { Environment } from '../src/app.module';
import { loadGatewayConfig } from '../src/config/gateway-config';
import { createGateway } from '../src/create-gateway';
import { adminClient } from './support/admin-client';
import { aUserMessage, createTenant, GatewayUnderTest, startGatewayWithSimulator } from './support/gateway-harness';
import { eventually, JobsClient, OpenAiErrorBody, startWebhookReceiver } from './support/jobs-client';
import type { WebhookReceiver } from '../libs/ai/test/webhook-receiver';

const WEBHOOK_SECRET = 'whsec-e2e-0123456789abcdef';

const JOBS_ENV = {
  AI_JOBS_POLL_INTERVAL_MS: '50',
  AI_JOBS_TENANT_CONCURRENCY: '1',
  AI_JOBS_SHUTDOWN_GRACE_MS: '3000',
  AI_JOBS_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  AI_JOBS_WEBHOOK_SECRET: WEBHOOK_SECRET,
  // The receivers of these suites listen on loopback, over plain HTTP, on a port of their own.
  AI_JOBS_WEBHOOK_ALLOW_HTTP: 'true',
  AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
};

/** The settings that let webhooks reach `receiver`. */
const webhooksTo = (receiver: WebhookReceiver) => ({ AI_JOBS_WEBHOOK_ALLOWED_PORTS: String(receiver.port) });

const aRequest = (overrides: object = {}) => ({ model: 'gpt-4o-mini', messages: aUserMessage(), ...overrides });

/** The rows the usage ledger holds for a tenant, oldest first. */
async function ledgerOf(gateway: GatewayUnderTest, tenantId: string): Promise<Array<{ request_id: string; outcome: string }>> {
  await gateway.app.get(Governance).drain();
  return query(gateway.app.get(Database), 'SELECT request_id, outcome FROM tollgate_usage_ledger WHERE tenant_id = $1 ORDER BY created_at, request_id', [tenantId]);
}

/** The stored size of each job's request, by job id. */
async function storedRequestBytes(gateway: GatewayUnderTest, ids: string[]): Promise<Record<string, number>> {
  const rows = await query<{ id: string; bytes: string | number }>(gateway.app.get(Database), 'SELECT id, LENGTH(request) AS bytes FROM tollgate_jobs');
  return Object.fromEntries(rows.filter((row) => ids.includes(row.id)).map((row) => [row.id, Number(row.bytes)]));
}

/** Polls the job through the library, for a tenant whose keys no longer open the HTTP routes. */
async function finishedInLibrary(gateway: GatewayUnderTest, jobId: string, tenantId: string): Promise<ChatCompletionJob> {
  let job: ChatCompletionJob | undefined;
  await eventually(async () => {
    job = await gateway.app.get(AiService).getJob(jobId, tenantId);
    expect(['succeeded', 'failed', 'cancelled']).toContain(job.status);
  }, 10_000);
  return job!;
}

/** The gateway's async routes over real HTTP, on the queue and database that `environment` configures. */
function describeJobsThroughGateway(name: string, environment: () => Promise<Environment>, cleanUp: () => Promise<void> = async () => undefined): void {
  describe(name, () => {
    let gateway: GatewayUnderTest;
    let receiver: WebhookReceiver;
    // Tenant ids of their own: the request-rate counters on a shared Redis outlive a run.
    const run = randomBytes(3).toString('hex');
    let seq = 0;

    beforeAll(async () => {
      receiver = await startWebhookReceiver();
      gateway = await startGatewayWithSimulator({ ...JOBS_ENV, ...webhooksTo(receiver), ...(await environment()) });
    });
    afterAll(async () => {
      await gateway.close();
      await receiver.close();
      await cleanUp();
    });
    beforeEach(() => gateway.simulator.reset());

    const newTenant = async (limits = {}) => {
      const id = `jobs-${run}-${++seq}`;
      return { id, jobs: new JobsClient(gateway.url, await createTenant(gateway.app, id, { ...UNLIMITED, ...limits })) };
    };

    it('should answer 202 with a queued job, a Location and a wait, then serve the completion when polled', async () => {
      const { id: tenantId, jobs } = await newTenant();

      const submitted = await jobs.submit(aRequest());
      const finished = await jobs.finished(submitted.body.id);

      expect(submitted.status).toBe(202);
      expect(submitted.body).toMatchObject({ object: 'chat.completion.job', status: 'queued', model: 'gpt-4o-mini', completion: null, error: null });
      expect(submitted.body.id).toMatch(/^job_[0-9a-f]{32}$/);
      expect(submitted.headers.get('location')).toBe(`/v1/async/jobs/${submitted.body.id}`);
      expect(Number(submitted.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(submitted.body.estimated_wait_seconds).toBeGreaterThanOrEqual(1);
      expect(finished).toMatchObject({ status: 'succeeded', attempts: 1, error: null, completion: { object: 'chat.completion' } });
      expect(finished.completed_at).toBeGreaterThanOrEqual(finished.created_at);
      expect(finished.expires_at).toBeGreaterThan(finished.completed_at!);
      // The same guarded path as a live call: one ledger row, its request id derived from the job's.
      expect(await ledgerOf(gateway, tenantId)).toEqual([{ request_id: `${submitted.body.id}:1`, outcome: 'success' }]);
      expect(gateway.simulator.calls()).toHaveLength(1);
    });

    it('should answer 404 job_not_found in OpenAI’s shape for another tenant’s job and for an unknown one', async () => {
      const owner = await newTenant();
      const stranger = await newTenant();
      const { body: job } = await owner.jobs.submit(aRequest());

      const theirs = await stranger.jobs.get(job.id);
      const unknown = await owner.jobs.get('job_00000000000000000000000000000000');
      const cancelTheirs = await stranger.jobs.cancel(job.id);

      for (const answer of [theirs, unknown, cancelTheirs]) {
        expect(answer.status).toBe(404);
        expect((answer.body as unknown as OpenAiErrorBody).error).toMatchObject({ type: 'invalid_request_error', code: 'job_not_found', param: null });
      }
      expect(await owner.jobs.finished(job.id)).toMatchObject({ status: 'succeeded' });
    });

    it('should cancel a queued job, which then never runs', async () => {
      const { jobs } = await newTenant();
      gateway.simulator.configure({ latencyMs: 400 });
      // The tenant may run one job at a time: the second waits in the queue.
      const { body: first } = await jobs.submit(aRequest());
      const { body: second } = await jobs.submit(aRequest());

      const cancelled = await jobs.cancel(second.id);
      await jobs.finished(first.id);

      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ id: second.id, status: 'cancelled', completion: null });
      expect((await jobs.get(second.id)).body.status).toBe('cancelled');
      expect(gateway.simulator.calls()).toHaveLength(1);
    });

    it('should cancel a running job and abort its upstream call', async () => {
      const { id: tenantId, jobs } = await newTenant();
      gateway.simulator.configure({ latencyMs: 5_000 });
      const { body: job } = await jobs.submit(aRequest());
      await eventually(() => expect(gateway.simulator.calls()).toHaveLength(1));

      const cancelled = await jobs.cancel(job.id);

      expect(cancelled.body.status).toBe('cancelled');
      await eventually(async () => expect(await ledgerOf(gateway, tenantId)).toEqual([{ request_id: `${job.id}:1`, outcome: 'request_aborted' }]));
      expect((await jobs.get(job.id)).body).toMatchObject({ status: 'cancelled', completion: null });
    });

    it('should leave a finished job as it is when asked to cancel it', async () => {
      const { jobs } = await newTenant();
      const { body: job } = await jobs.submit(aRequest());
      await jobs.finished(job.id);

      const answer = await jobs.cancel(job.id);

      expect(answer.status).toBe(200);
      expect(answer.body.status).toBe('succeeded');
    });

    it('should fail a job of a tenant over its quota with tenant_quota_exceeded, without retrying it', async () => {
      const { jobs } = await newTenant({ requestsPerDay: 1 });
      const { body: allowed } = await jobs.submit(aRequest());
      await jobs.finished(allowed.id);

      const { body: refused } = await jobs.submit(aRequest());
      const finished = await jobs.finished(refused.id);

      expect(finished).toMatchObject({ status: 'failed', attempts: 1, completion: null });
      expect(finished.error).toMatchObject({ type: 'insufficient_quota', code: 'tenant_quota_exceeded', param: null });
      expect(gateway.simulator.calls()).toHaveLength(1);
    });

    it('should wait out an upstream rate limit in the queue, then succeed', async () => {
      const { id: tenantId, jobs } = await newTenant();
      gateway.simulator.enqueueFaults({ preset: 'rate_limit_exceeded', retryAfterMs: 300 });

      const { body: job } = await jobs.submit(aRequest());
      const finished = await jobs.finished(job.id);

      // One upstream call per run: the wait was taken in the queue, not in a retry loop inside the run.
      expect(finished).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(gateway.simulator.calls()).toHaveLength(2);
      expect(await ledgerOf(gateway, tenantId)).toEqual([
        { request_id: `${job.id}:1`, outcome: 'upstream_rate_limited' },
        { request_id: `${job.id}:2`, outcome: 'success' },
      ]);
    });

    it('should fail, without calling the upstream, the queued jobs of a key revoked after it submitted them', async () => {
      const { id: tenantId, jobs: revokedKeyJobs } = await newTenant();
      const [{ id: revokedKeyId }] = await gateway.app.get(ApiKeyService).list(tenantId);
      const liveKeyJobs = new JobsClient(gateway.url, (await gateway.app.get(ApiKeyService).issue(tenantId)).key);
      gateway.simulator.configure({ latencyMs: 400 });
      // The tenant runs one job at a time: the first runs, the others wait in the queue behind it.
      const { body: running } = await revokedKeyJobs.submit(aRequest());
      await eventually(() => expect(gateway.simulator.calls()).toHaveLength(1));
      const queued: string[] = [];
      for (let i = 0; i < 3; i++) queued.push((await revokedKeyJobs.submit(aRequest())).body.id);
      const { body: ofLiveKey } = await liveKeyJobs.submit(aRequest());

      const revocation = await adminClient(gateway.url).delete(`/admin/tenants/${tenantId}/keys/${revokedKeyId}`);
      const finished = await Promise.all(queued.map((id) => liveKeyJobs.finished(id)));

      expect(revocation.status).toBe(204);
      for (const job of finished) {
        expect(job).toMatchObject({ status: 'failed', completion: null, error: { type: 'invalid_request_error', code: 'api_key_revoked', param: null } });
      }
      expect(await liveKeyJobs.finished(running.id)).toMatchObject({ status: 'succeeded' });
      expect(await liveKeyJobs.finished(ofLiveKey.id)).toMatchObject({ status: 'succeeded' });
      expect(gateway.simulator.calls()).toHaveLength(2);
    });

    it('should fail, without calling the upstream, the queued jobs of a tenant another replica disabled after they were submitted', async () => {
      const { id: tenantId, jobs } = await newTenant();
      gateway.simulator.configure({ latencyMs: 400 });
      const { body: running } = await jobs.submit(aRequest());
      await eventually(() => expect(gateway.simulator.calls()).toHaveLength(1));
      const { body: queued } = await jobs.submit(aRequest());

      // Written as another replica's admin API writes it: this gateway's cache of the tenant is not told.
      await query(gateway.app.get(Database), "UPDATE tollgate_tenants SET status = 'disabled' WHERE id = $1", [tenantId]);
      const job = await finishedInLibrary(gateway, queued.id, tenantId);

      expect(job).toMatchObject({ status: 'failed', completion: null, error: { type: 'invalid_request_error', code: 'tenant_disabled', param: null } });
      expect(await finishedInLibrary(gateway, running.id, tenantId)).toMatchObject({ status: 'succeeded' });
      expect(gateway.simulator.calls()).toHaveLength(1);
    });

    it('should count a submit against the tenant’s requests per minute, once: one over is a 429 with Retry-After and stores nothing', async () => {
      const { id: tenantId, jobs } = await newTenant({ requestsPerMinute: 3 });
      const accepted = [];
      for (let i = 0; i < 3; i++) accepted.push(await jobs.submit(aRequest()));

      const refused = await jobs.submit(aRequest());
      const finished = await Promise.all(accepted.map(({ body }) => jobs.finished(body.id)));

      expect(accepted.map((answer) => answer.status)).toEqual([202, 202, 202]);
      expect(refused.status).toBe(429);
      expect((refused.body as unknown as OpenAiErrorBody).error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded', param: null });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await query(gateway.app.get(Database), 'SELECT id FROM tollgate_jobs WHERE tenant_id = $1', [tenantId])).toHaveLength(3);
      // Counted at submit: their runs are not refused by the same minute's count.
      expect(finished.map((job) => [job.status, job.attempts])).toEqual([['succeeded', 1], ['succeeded', 1], ['succeeded', 1]]);
      expect(gateway.simulator.calls()).toHaveLength(3);
    });

    it('should drop the stored request of a job once it has finished: succeeded, failed at once, or cancelled', async () => {
      const { jobs } = await newTenant({ requestsPerDay: 1 });
      const large = aRequest({ messages: aUserMessage('Say hello. '.repeat(2_000)) });
      gateway.simulator.configure({ latencyMs: 300 });
      const { body: succeeds } = await jobs.submit(large);
      const { body: failsAtOnce } = await jobs.submit(large);
      const { body: cancelled } = await jobs.submit(large);
      const ids = [succeeds.id, failsAtOnce.id, cancelled.id];
      const whileQueued = await storedRequestBytes(gateway, ids);

      await jobs.cancel(cancelled.id);
      const finished = await Promise.all(ids.map((id) => jobs.finished(id)));

      expect(Object.values(whileQueued).every((bytes) => bytes > 20_000)).toBe(true);
      expect(finished.map((job) => job.status)).toEqual(['succeeded', 'failed', 'cancelled']);
      expect(finished[0].completion).toMatchObject({ object: 'chat.completion' });
      expect(finished[1].error).toMatchObject({ code: 'tenant_quota_exceeded' });
      expect(await storedRequestBytes(gateway, ids)).toEqual({ [succeeds.id]: 0, [failsAtOnce.id]: 0, [cancelled.id]: 0 });
    });

    it('should call the webhook with the finished job, signed with the configured secret', async () => {
      const { jobs } = await newTenant();

      const { body: job } = await jobs.submit(aRequest({ webhook_url: receiver.url }));
      await eventually(() => expect(receiver.received.filter((hook) => hook.headers['x-tollgate-job-id'] === job.id)).toHaveLength(1), 5_000);

      const { headers, rawBody } = receiver.received.find((hook) => hook.headers['x-tollgate-job-id'] === job.id)!;
      const nowSeconds = Math.floor(Date.now() / 1000);
      expect(verifyWebhookSignature(headers[WEBHOOK_SIGNATURE_HEADER] as string, rawBody, WEBHOOK_SECRET, nowSeconds)).toBe(true);
      expect(verifyWebhookSignature(headers[WEBHOOK_SIGNATURE_HEADER] as string, rawBody, 'another-secret-0123456789', nowSeconds)).toBe(false);
      expect(verifyWebhookSignature(headers[WEBHOOK_SIGNATURE_HEADER] as string, rawBody.replace('succeeded', 'failed'), WEBHOOK_SECRET, nowSeconds)).toBe(false);
      expect(JSON.parse(rawBody)).toMatchObject({ id: job.id, object: 'chat.completion.job', status: 'succeeded', completion: { object: 'chat.completion' } });
      await eventually(async () => expect((await jobs.get(job.id)).body.webhook_status).toBe('delivered'));
    });

    it('should refuse a webhook to a host off the allow-list with 400 webhook_not_allowed, before queueing anything', async () => {
      const { id: tenantId, jobs } = await newTenant();

      const answer = await jobs.submit(aRequest({ webhook_url: 'https://attacker.example.com/hook' }));

      expect(answer.status).toBe(400);
      expect((answer.body as unknown as OpenAiErrorBody).error).toMatchObject({ code: 'webhook_not_allowed', param: 'webhook_url', type: 'invalid_request_error' });
      expect(await query(gateway.app.get(Database), 'SELECT id FROM tollgate_jobs WHERE tenant_id = $1', [tenantId])).toEqual([]);
    });

    it.each([
      ['stream: true', { stream: true }, 'stream'],
      ['an unknown field', { webhook: 'x' }, 'webhook'],
      ['a webhook_url that is not a string', { webhook_url: 42 }, 'webhook_url'],
    ])('should refuse %s with 400 naming the field', async (_case, fields, param) => {
      const { jobs } = await newTenant();

      const answer = await jobs.submit(aRequest(fields));

      expect(answer.status).toBe(400);
      expect((answer.body as unknown as OpenAiErrorBody).error).toMatchObject({ type: 'invalid_request_error', param });
    });

    it('should refuse at submit time what the call would refuse at once: an unknown model, a model outside the plan', async () => {
      const { jobs } = await newTenant({ allowedModels: ['gpt-4o-mini'], allowUnknownModels: false });

      const unknown = await jobs.submit(aRequest({ model: 'gpt-unknown' }));
      const outsidePlan = await jobs.submit(aRequest({ model: 'gpt-4o' }));

      expect([unknown.status, outsidePlan.status]).toEqual([404, 403]);
      expect((unknown.body as unknown as OpenAiErrorBody).error.code).toBe('model_not_found');
      expect((outsidePlan.body as unknown as OpenAiErrorBody).error.code).toBe('model_not_allowed');
      expect(gateway.simulator.calls()).toHaveLength(0);
    });

    it('should refuse a request without a valid key with 401', async () => {
      const answer = await new JobsClient(gateway.url, `tg-${'a'.repeat(40)}`).submit(aRequest());

      expect(answer.status).toBe(401);
    });
  });
}

describeJobsThroughGateway('Asynchronous chat jobs through the gateway (in-process queue, SQLite)', async () => ({}));

describeWithPostgres('Asynchronous chat jobs through the gateway on PostgreSQL', (databaseUrl) => {
  const databases = postgresDatabases(databaseUrl);
  describeWithRedis('with BullMQ on Redis', (redisUrl) => {
    const prefix = `tg-e2e-${randomBytes(4).toString('hex')}`;
    describeJobsThroughGateway(
      'Asynchronous chat jobs through the gateway (BullMQ)',
      async () => ({ DATABASE_URL: await databases.fresh(), REDIS_URL: redisUrl, AI_JOBS_QUEUE_PREFIX: prefix }),
      async () => {
        const queue = new Queue(BULLMQ_QUEUE_NAME, { connection: { url: redisUrl }, prefix });
        await queue.obliterate({ force: true });
        await queue.close();
      },
    );
  });
});

describe('Webhook destinations, checked again at delivery (in-process queue, SQLite)', () => {
  let receiver: WebhookReceiver;
  let gateway: GatewayUnderTest;
  let jobs: JobsClient;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    gateway = await startGatewayWithSimulator({
      ...JOBS_ENV,
      AI_JOBS_WEBHOOK_ALLOWED_HOSTS: 'localhost,127.0.0.1,hooks.example.com',
      AI_JOBS_WEBHOOK_ALLOWED_PORTS: `443,${receiver.port}`,
      AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'false',
    });
    jobs = new JobsClient(gateway.url, gateway.tenantKey);
  });
  afterAll(async () => {
    await gateway.close();
    await receiver.close();
  });

  it('should refuse at delivery a webhook to an allowed name that resolves to loopback: the job succeeds, the refusal is recorded, logged and counted', async () => {
    // `localhost` is on the allow-list, and resolves (through the system's resolver) to 127.0.0.1.
    const { status, body: submitted } = await jobs.submit(aRequest({ webhook_url: `http://localhost:${receiver.port}/hooks/tollgate` }));
    const job = await jobs.finished(submitted.id);
    await eventually(async () => expect((await jobs.get(job.id)).body.webhook_status).toBe('failed'));

    expect(status).toBe(202);
    expect(job.status).toBe('succeeded');
    expect(receiver.received).toEqual([]);
    const refusals = gateway.log.entries().filter((entry) => String(entry.msg).includes(`webhook of job ${job.id} refused`));
    expect(refusals).toEqual([expect.objectContaining({ msg: expect.stringContaining('127.0.0.1') })]);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain('tollgate_job_webhooks_total{outcome="refused"} 1');
  });

  it.each([
    ['a port off the allowed ports', 'https://hooks.example.com:8443/hook'],
    ['a loopback address written in the URL', 'http://127.0.0.1:PORT/hook'],
  ])('should refuse at submit %s, with 400 webhook_not_allowed, storing nothing', async (_case, url) => {
    const before = await query(gateway.app.get(Database), 'SELECT id FROM tollgate_jobs');

    const answer = await jobs.submit(aRequest({ webhook_url: url.replace('PORT', String(receiver.port)) }));

    expect(answer.status).toBe(400);
    expect((answer.body as unknown as OpenAiErrorBody).error).toMatchObject({ type: 'invalid_request_error', code: 'webhook_not_allowed', param: 'webhook_url' });
    expect(await query(gateway.app.get(Database), 'SELECT id FROM tollgate_jobs')).toEqual(before);
  });
});

describe('A webhook host taken off the allow-list after its job was submitted (SQLite file, two gateways in turn)', () => {
  let folder: string;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'tollgate-webhooks-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('should not be called by the gateway that runs the job under the new list', async () => {
    const receiver = await startWebhookReceiver();
    const env = { ...JOBS_ENV, ...webhooksTo(receiver), DATABASE_URL: `sqlite:${join(folder, 'jobs.sqlite')}` };
    try {
      // The first gateway only takes jobs in, under a list that allows the receiver.
      const before = await startGatewayWithSimulator({ ...env, AI_JOBS_ENABLED: 'false' });
      const key = await createTenant(before.app, 'webhook-moved', UNLIMITED);
      const { status, body: submitted } = await new JobsClient(before.url, key).submit(aRequest({ webhook_url: receiver.url }));
      await before.close();

      const after = await startGatewayWithSimulator({ ...env, AI_JOBS_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' });
      try {
        const jobs = new JobsClient(after.url, key);
        const job = await jobs.finished(submitted.id);
        await eventually(async () => expect((await jobs.get(job.id)).body.webhook_status).toBe('failed'));

        expect(status).toBe(202);
        expect(job.status).toBe('succeeded');
        expect(receiver.received).toEqual([]);
      } finally {
        await after.close();
      }
    } finally {
      await receiver.close();
    }
  });
});

/** Six jobs, a gateway stopped after the first has reached the upstream, a new one on the same stores: each job runs once. */
async function expectEveryJobOnceAcrossARestart(env: Environment): Promise<void> {
  const first = await startGatewayWithSimulator(env);
  const tenantId = 'restart-tenant';
  const key = await createTenant(first.app, tenantId, UNLIMITED);
  const jobs = new JobsClient(first.url, key);
  first.simulator.configure({ latencyMs: 150 });
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await jobs.submit(aRequest())).body.id);
  await eventually(() => expect(first.simulator.calls().length).toBeGreaterThanOrEqual(1));

  await first.close();
  const second = await startGatewayWithSimulator(env);
  try {
    const restarted = new JobsClient(second.url, key);
    const finished = await Promise.all(ids.map((id) => restarted.finished(id)));

    expect(finished.map((job) => job.status)).toEqual(ids.map(() => 'succeeded'));
    expect(first.simulator.calls().length + second.simulator.calls().length).toBe(ids.length);
    const ledger = await ledgerOf(second, tenantId);
    expect(ledger.filter((row) => row.outcome === 'success').map((row) => row.request_id.split(':')[0]).sort()).toEqual([...ids].sort());
    expect(first.simulator.calls().length).toBeLessThan(ids.length);
  } finally {
    await second.close();
  }
}

describe('Asynchronous chat jobs across a gateway restart (in-process queue on a SQLite file)', () => {
  let folder: string;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'tollgate-jobs-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('should run every queued job exactly once after the gateway restarts mid-queue', async () => {
    await expectEveryJobOnceAcrossARestart({ ...JOBS_ENV, DATABASE_URL: `sqlite:${join(folder, 'jobs.sqlite')}`, AI_JOBS_CONCURRENCY: '1' });
  });
});

describeWithPostgres('Asynchronous chat jobs across a gateway restart on PostgreSQL', (databaseUrl) => {
  const databases = postgresDatabases(databaseUrl);
  describeWithRedis('with BullMQ on Redis', (redisUrl) => {
    const prefix = `tg-e2e-restart-${randomBytes(4).toString('hex')}`;
    afterAll(async () => {
      const queue = new Queue(BULLMQ_QUEUE_NAME, { connection: { url: redisUrl }, prefix });
      await queue.obliterate({ force: true });
      await queue.close();
    });

    it('should run every queued job exactly once after the gateway restarts mid-queue', async () => {
      await expectEveryJobOnceAcrossARestart({
        ...JOBS_ENV,
        DATABASE_URL: await databases.fresh(),
        REDIS_URL: redisUrl,
        AI_JOBS_QUEUE_PREFIX: prefix,
        AI_JOBS_CONCURRENCY: '1',
      });
    });
  });
});

describe('Job settings in the environment', () => {
  const start = (env: Record<string, string>) => createGateway({ NODE_ENV: 'test', OPENAI_API_KEY: 'sk-config-test', ...env }, { log: false });

  it.each([
    ['AI_JOBS_CONCURRENCY', { AI_JOBS_CONCURRENCY: '0' }],
    ['AI_JOBS_RETENTION_MS', { AI_JOBS_RETENTION_MS: 'a day' }],
    ['AI_JOBS_ENABLED', { AI_JOBS_ENABLED: 'yes' }],
    ['AI_JOBS_WEBHOOK_ALLOWED_HOSTS', { AI_JOBS_WEBHOOK_ALLOWED_HOSTS: 'https://hooks.example.com/x', AI_JOBS_WEBHOOK_SECRET: WEBHOOK_SECRET }],
    ['AI_JOBS_WEBHOOK_SECRET', { AI_JOBS_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' }],
    ['AI_JOBS_WEBHOOK_SECRET', { AI_JOBS_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com', AI_JOBS_WEBHOOK_SECRET: 'short' }],
    ['AI_JOBS_QUEUE_PREFIX', { AI_JOBS_QUEUE_PREFIX: 'bull:{x}' }],
    ['AI_JOBS_WEBHOOK_ALLOWED_PORTS', { AI_JOBS_WEBHOOK_ALLOWED_PORTS: 'https' }],
    ['AI_JOBS_WEBHOOK_ALLOWED_PORTS', { AI_JOBS_WEBHOOK_ALLOWED_PORTS: '443,70000' }],
    ['AI_JOBS_WEBHOOK_ALLOWED_PORTS', { AI_JOBS_WEBHOOK_ALLOWED_PORTS: '0' }],
    ['AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES', { AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'yes' }],
    ['AI_JOBS_WEBHOOK_ALLOW_HTTP', { AI_JOBS_WEBHOOK_ALLOW_HTTP: '1' }],
  ])('should refuse to start on a bad %s, naming it', async (variable, env) => {
    await expect(start(env)).rejects.toThrow(new RegExp(`^Invalid configuration[\\s\\S]*${variable}`));
  });

  it('should hand the job settings to AiModule, the gateway’s error mapping included', () => {
    const { jobs } = loadGatewayConfig({
      AI_JOBS_CONCURRENCY: '3',
      AI_JOBS_TENANT_CONCURRENCY: '1',
      AI_JOBS_RETENTION_MS: '60000',
      AI_JOBS_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com, *.example.org',
      AI_JOBS_WEBHOOK_SECRET: WEBHOOK_SECRET,
      AI_JOBS_WEBHOOK_ALLOWED_PORTS: '443, 8443',
      AI_JOBS_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
      AI_JOBS_WEBHOOK_ALLOW_HTTP: 'false',
      AI_JOBS_ENABLED: 'false',
    }).policies;

    expect(jobs).toMatchObject({
      enabled: false,
      concurrency: 3,
      tenantConcurrency: 1,
      retentionMs: 60_000,
      webhookAllowedHosts: ['hooks.example.com', '*.example.org'],
      webhookAllowedPorts: [443, 8443],
      webhookAllowPrivateAddresses: true,
      webhookAllowHttp: false,
    });
    expect(jobs?.describeError?.(new Error('boom'), 'job_1')).toEqual({
      message: 'The gateway failed unexpectedly. Quote request id job_1 to its operator.',
      type: 'server_error',
      code: 'internal_error',
      param: null,
    });
  });
});
