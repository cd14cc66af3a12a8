import { Database, Governance, UNLIMITED, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from '@tollgate/ai';
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
import { aUserMessage, createTenant, GatewayUnderTest, startGatewayWithSimulator } from './support/gateway-harness';
import { eventually, JobsClient, OpenAiErrorBody, startWebhookReceiver } from './support/jobs-client';

const WEBHOOK_SECRET = 'whsec-e2e-0123456789abcdef';

const JOBS_ENV = {
  AI_JOBS_POLL_INTERVAL_MS: '50',
  AI_JOBS_TENANT_CONCURRENCY: '1',
  AI_JOBS_SHUTDOWN_GRACE_MS: '3000',
  AI_JOBS_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  AI_JOBS_WEBHOOK_SECRET: WEBHOOK_SECRET,
};

const aRequest = (overrides: object = {}) => ({ model: 'gpt-4o-mini', messages: aUserMessage(), ...overrides });

/** The rows the usage ledger holds for a tenant, oldest first. */
async function ledgerOf(gateway: GatewayUnderTest, tenantId: string): Promise<Array<{ request_id: string; outcome: string }>> {
  await gateway.app.get(Governance).drain();
  return query(gateway.app.get(Database), 'SELECT request_id, outcome FROM usage_ledger WHERE tenant_id = $1 ORDER BY created_at, request_id', [tenantId]);
}

/** The gateway's async routes over real HTTP, on the queue and database that `environment` configures. */
function describeJobsThroughGateway(name: string, environment: () => Promise<Environment>, cleanUp: () => Promise<void> = async () => undefined): void {
  describe(name, () => {
    let gateway: GatewayUnderTest;
    let seq = 0;

    beforeAll(async () => {
      gateway = await startGatewayWithSimulator({ ...JOBS_ENV, ...(await environment()) });
    });
    afterAll(async () => {
      await gateway.close();
      await cleanUp();
    });
    beforeEach(() => gateway.simulator.reset());

    const newTenant = async (limits = {}) => {
      const id = `jobs-${++seq}`;
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

    it('should call the webhook with the finished job, signed with the configured secret', async () => {
      const receiver = await startWebhookReceiver();
      try {
        const { jobs } = await newTenant();

        const { body: job } = await jobs.submit(aRequest({ webhook_url: receiver.url }));
        await eventually(() => expect(receiver.received).toHaveLength(1), 5_000);

        const [{ headers, rawBody }] = receiver.received;
        const nowSeconds = Math.floor(Date.now() / 1000);
        expect(verifyWebhookSignature(headers[WEBHOOK_SIGNATURE_HEADER] as string, rawBody, WEBHOOK_SECRET, nowSeconds)).toBe(true);
        expect(verifyWebhookSignature(headers[WEBHOOK_SIGNATURE_HEADER] as string, rawBody, 'another-secret-0123456789', nowSeconds)).toBe(false);
        expect(verifyWebhookSignature(headers[WEBHOOK_SIGNATURE_HEADER] as string, rawBody.replace('succeeded', 'failed'), WEBHOOK_SECRET, nowSeconds)).toBe(false);
        expect(headers['x-tollgate-job-id']).toBe(job.id);
        expect(JSON.parse(rawBody)).toMatchObject({ id: job.id, object: 'chat.completion.job', status: 'succeeded', completion: { object: 'chat.completion' } });
        await eventually(async () => expect((await jobs.get(job.id)).body.webhook_status).toBe('delivered'));
      } finally {
        await receiver.close();
      }
    });

    it('should refuse a webhook to a host off the allow-list with 400 webhook_not_allowed, before queueing anything', async () => {
      const { id: tenantId, jobs } = await newTenant();

      const answer = await jobs.submit(aRequest({ webhook_url: 'https://attacker.example.com/hook' }));

      expect(answer.status).toBe(400);
      expect((answer.body as unknown as OpenAiErrorBody).error).toMatchObject({ code: 'webhook_not_allowed', param: 'webhook_url', type: 'invalid_request_error' });
      expect(await query(gateway.app.get(Database), 'SELECT id FROM jobs WHERE tenant_id = $1', [tenantId])).toEqual([]);
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
      AI_JOBS_ENABLED: 'false',
    }).policies;

    expect(jobs).toMatchObject({ enabled: false, concurrency: 3, tenantConcurrency: 1, retentionMs: 60_000, webhookAllowedHosts: ['hooks.example.com', '*.example.org'] });
    expect(jobs?.describeError?.(new Error('boom'), 'job_1')).toEqual({
      message: 'The gateway failed unexpectedly. Quote request id job_1 to its operator.',
      type: 'server_error',
      code: 'internal_error',
      param: null,
    });
  });
});
