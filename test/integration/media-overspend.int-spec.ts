import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { LimitOverrides } from '@tollgate/ai';
import { Governance, Database } from '@tollgate/ai/tenancy';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import type { ChatCompletionContentPart } from 'openai/resources/chat/completions';
import { createGateway } from '../../src/create-gateway';
import { describeWithPostgres, describeWithRedis, postgresDatabases } from '../../libs/ai/test/integration/services';
import { ADMIN_TOKEN, createTenant, FAST_POLICIES, tenantClient, UPSTREAM_KEY } from '../support/gateway-harness';

const REPLICAS = 3;
const CONCURRENT_REQUESTS = 10;
// OpenAI's tile rule for gpt-4o and gpt-4.1: 85 + 170 per 512-px tile, at most 8 tiles (768 × 2048).
const HIGH_DETAIL_IMAGE_BOUND = 85 + 8 * 170;
const NO_OTHER_LIMITS: LimitOverrides = { requestsPerMinute: null, tokensPerMinute: null, requestsPerDay: null, concurrentRequests: null, tokensPerMonth: null, costPerMonthUsd: null };

const images = (count: number): ChatCompletionContentPart[] =>
  Array.from({ length: count }, () => ({ type: 'image_url', image_url: { url: 'https://images.example.com/photo.png', detail: 'high' } }));
const withImages = (count: number) => [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Describe these.' }, ...images(count)] }];

/**
 * The overspend proof against media parts: three gateway replicas on one PostgreSQL and Redis, 10
 * concurrent requests of images spread over them. Nothing is admitted beyond the quota, and the
 * quota counters agree with the ledger.
 */
describeWithPostgres('Media quotas across three gateway replicas on PostgreSQL', (databaseServer) => describeWithRedis('and Redis', (redisUrl) => {
  const databases = postgresDatabases(databaseServer);
  let simulator: RunningSimulator;
  let replicas: NestFastifyApplication[];

  beforeAll(async () => {
    simulator = await startSimulator();
    const env = { OPENAI_BASE_URL: simulator.url, OPENAI_API_KEY: UPSTREAM_KEY, ADMIN_TOKEN, DATABASE_URL: await databases.fresh(), REDIS_URL: redisUrl, ...FAST_POLICIES };
    replicas = [];
    for (let i = 0; i < REPLICAS; i++) {
      const app = await createGateway({ NODE_ENV: 'test', ...env }, { log: false });
      await app.listen({ port: 0, host: '127.0.0.1' });
      replicas.push(app);
    }
  });
  beforeEach(() => simulator.reset());
  afterAll(async () => {
    await Promise.all(replicas.map((app) => app.close()));
    await simulator.close();
  });

  async function sendAtOnce(limits: LimitOverrides, model: string, imageCount: number) {
    const tenantId = `media-${randomUUID().slice(0, 8)}`;
    const key = await createTenant(replicas[0], tenantId, { ...NO_OTHER_LIMITS, ...limits });
    const clients: OpenAI[] = await Promise.all(replicas.map(async (app) => tenantClient(await app.getUrl(), { apiKey: key })));
    // Slow enough that every request is in flight before the first one settles.
    simulator.configure({ latencyMs: 1_000 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: CONCURRENT_REQUESTS }, (_, i) => clients[i % REPLICAS].chat.completions.create({ model, messages: withImages(imageCount), max_tokens: 16 })),
    );
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ status: 429, code: 'tenant_quota_exceeded' });
    await Promise.all(replicas.map((app) => app.get(Governance).drain()));
    const database = replicas[0].get(Database);
    const [counters] = await database.manager.query('SELECT SUM(day_requests) AS requests, SUM(tokens) AS tokens, SUM(cost_micro_usd) AS cost FROM tollgate_quota_usage WHERE tenant_id = $1', [tenantId]);
    const [ledger] = await database.manager.query('SELECT COUNT(*) AS requests, SUM(prompt_tokens + completion_tokens) AS tokens, SUM(cost_micro_usd) AS cost FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenantId]);
    const numbers = (row: Record<string, unknown>) => ({ requests: Number(row.requests ?? 0), tokens: Number(row.tokens ?? 0), cost: Number(row.cost ?? 0) });
    return { served: outcomes.filter((outcome) => outcome.status === 'fulfilled').length, counters: numbers(counters), ledger: numbers(ledger) };
  }

  it('should admit none of 10 requests of 100 high-detail images that each cost more than a $0.01 quota', async () => {
    const { served, counters, ledger } = await sendAtOnce({ costPerMonthUsd: 0.01 }, 'gpt-4.1', 100);

    expect(served).toBe(0);
    expect(simulator.calls()).toHaveLength(0);
    expect(counters).toEqual({ requests: 0, tokens: 0, cost: 0 });
    expect(ledger).toEqual(counters);
  });

  it('should admit exactly the requests of 10 images that a token quota holds at their largest bill, the rest refused', async () => {
    const quota = 3 * 10 * HIGH_DETAIL_IMAGE_BOUND + 1_000;

    const { served, counters, ledger } = await sendAtOnce({ tokensPerMonth: quota }, 'gpt-4o', 10);

    expect(served).toBe(3);
    expect(simulator.calls()).toHaveLength(3);
    expect(counters.requests).toBe(3);
    expect(counters.tokens).toBeLessThanOrEqual(quota);
    expect(ledger).toEqual(counters);
  });
}));
