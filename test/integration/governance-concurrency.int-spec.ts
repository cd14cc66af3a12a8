import { NestFastifyApplication } from '@nestjs/platform-fastify';

import { Governance, Database } from '@tollgate/ai/tenancy';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { randomUUID } from 'node:crypto';
import { createGateway } from '../../src/create-gateway';
import { ADMIN_TOKEN, aUserMessage, createTenant, FAST_POLICIES, rejectionOf, tenantClient, UPSTREAM_KEY } from '../support/gateway-harness';
import { describeWithPostgres, describeWithRedis, postgresDatabases } from '../../libs/ai/test/integration/services';

/**
 * The proof that a budget is never overspent across replicas: two gateway instances on the same
 * PostgreSQL and Redis, a tenant with a budget for N requests, 10×N concurrent requests against
 * a slow upstream. Exactly N are admitted, and the ledger agrees with the quota counters.
 */
describeWithPostgres('Quota across two gateway replicas on PostgreSQL', (databaseServer) => describeWithRedis('and Redis', (redisUrl) => {
  const BUDGET = 10;
  const databases = postgresDatabases(databaseServer);
  let simulator: RunningSimulator;
  let replicas: NestFastifyApplication[];

  beforeAll(async () => {
    simulator = await startSimulator();
    // Slow enough that every request is in flight before the first one settles.
    simulator.configure({ latencyMs: 300 });
    const env = {
      NODE_ENV: 'test',
      OPENAI_BASE_URL: simulator.url,
      OPENAI_API_KEY: UPSTREAM_KEY,
      ADMIN_TOKEN,
      DATABASE_URL: await databases.fresh(),
      REDIS_URL: redisUrl,
      ...FAST_POLICIES,
    };
    replicas = [];
    for (let i = 0; i < 2; i++) {
      const app = await createGateway(env, { log: false });
      await app.listen({ port: 0, host: '127.0.0.1' });
      replicas.push(app);
    }
  });

  afterAll(async () => {
    await Promise.all(replicas.map((app) => app.close()));
    await simulator.close();
  });

  it(`should admit exactly ${BUDGET} of ${10 * BUDGET} concurrent requests and refuse the rest with 429`, async () => {
    const tenant = `budget-${randomUUID().slice(0, 8)}`;
    const key = await createTenant(replicas[0], tenant, {
      requestsPerDay: BUDGET,
      requestsPerMinute: null,
      tokensPerMinute: null,
      concurrentRequests: null,
      tokensPerMonth: null,
      costPerMonthUsd: null,
    });
    const clients = await Promise.all(replicas.map(async (app) => tenantClient(await app.getUrl(), { apiKey: key })));

    const outcomes = await Promise.all(
      Array.from({ length: 10 * BUDGET }, (_, i) =>
        clients[i % 2].chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }).then(
          () => 'admitted',
          (error: unknown) => error,
        ),
      ),
    );

    const admitted = outcomes.filter((outcome) => outcome === 'admitted');
    const refused = await Promise.all(outcomes.filter((outcome) => outcome !== 'admitted').map((error) => rejectionOf(Promise.reject(error))));
    expect(admitted).toHaveLength(BUDGET);
    expect(refused).toHaveLength(9 * BUDGET);
    expect(refused.every((error) => error.status === 429 && error.code === 'tenant_quota_exceeded')).toBe(true);
    expect(refused.every((error) => Number(error.headers?.get('retry-after')) > 0)).toBe(true);
    expect(simulator.calls().filter((call) => call.status === 200)).toHaveLength(BUDGET);

    await Promise.all(replicas.map((app) => app.get(Governance).drain()));
    const [ledger] = await replicas[0].get(Database).manager.query(
      'SELECT COUNT(*) AS requests, SUM(prompt_tokens + completion_tokens) AS tokens, SUM(cost_micro_usd) AS cost FROM tollgate_usage_ledger WHERE tenant_id = $1',
      [tenant],
    );
    const [counters] = await replicas[0].get(Database).manager.query(
      'SELECT day_requests AS requests, tokens, cost_micro_usd AS cost FROM tollgate_quota_usage WHERE tenant_id = $1',
      [tenant],
    );
    expect(Number(ledger.requests)).toBe(BUDGET);
    expect(Number(counters.requests)).toBe(BUDGET);
    expect(Number(ledger.tokens)).toBeGreaterThan(0);
    expect(Number(counters.tokens)).toBe(Number(ledger.tokens));
    expect(Number(counters.cost)).toBe(Number(ledger.cost));
    const reservations = await replicas[0].get(Database).manager.query('SELECT COUNT(*) AS held FROM tollgate_reservations WHERE tenant_id = $1', [tenant]);
    expect(Number(reservations[0].held)).toBe(0);
  });
}));
