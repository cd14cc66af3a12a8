import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { randomUUID } from 'node:crypto';
import { describeWithPostgres, describeWithRedis, postgresDatabases } from '../../libs/ai/test/integration/services';
import { FakeClock } from '../../libs/ai/test/fake-clock';
import { query, Replica, startReplica } from '../../libs/ai/test/integration/replica';
import { ADMIN_TOKEN, UPSTREAM_KEY } from '../support/gateway-harness';
import { GatewayProcess, startGatewayProcess } from '../support/gateway-process';

const CONNECTIONS = 24;
const LOAD_MS = 2_500;
/** The gateways' default: a reservation not renewed for this long belongs to a replica that died. */
const RESERVATION_TTL_MS = 300_000;

/** Requests in a loop until `stopAt`, each with its own x-request-id; returns the ids the gateway answered with 200. */
async function load(gateway: GatewayProcess, key: string, stopAt: number): Promise<string[]> {
  const answered: string[] = [];
  while (Date.now() < stopAt) {
    const requestId = `crash-${randomUUID()}`;
    try {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 50 }),
      });
      await response.arrayBuffer();
      if (response.status === 200) answered.push(requestId);
    } catch {
      // The gateway was killed under this request.
    }
  }
  return answered;
}

/**
 * kill -9 of every replica under load, then recovery by another: every call the upstream answered
 * is in the ledger exactly once, and the quota counters say exactly what the ledger says.
 */
describeWithPostgres('Billing across a kill -9 on PostgreSQL', (databaseServer) => describeWithRedis('and Redis', (redisUrl) => {
  const databases = postgresDatabases(databaseServer);
  let simulator: RunningSimulator;
  let databaseUrl: string;
  let recovery: Replica;

  beforeAll(async () => {
    simulator = await startSimulator();
    // Calls in flight at any moment, so that the kill always catches some.
    simulator.configure({ latencyMs: 150 });
    databaseUrl = await databases.fresh();
    // The replica that recovers comes back after every reservation of the dead ones has expired.
    recovery = await startReplica({ database: { url: databaseUrl }, clock: new FakeClock(Date.now() + 2 * RESERVATION_TTL_MS) });
  });

  afterAll(async () => {
    await recovery?.close();
    await simulator?.close();
  });

  it('should leave counters = ledger, with a row for every call the upstream answered', async () => {
    const tenantId = `crash-${randomUUID().slice(0, 8)}`;
    await recovery.tenants.create({ id: tenantId, name: tenantId });
    await recovery.tenants.setLimits(tenantId, { tokensPerMonth: 100_000_000, costPerMonthUsd: 1_000 });
    const { key } = await recovery.keys.issue(tenantId);
    const env = { OPENAI_BASE_URL: simulator.url, OPENAI_API_KEY: UPSTREAM_KEY, ADMIN_TOKEN, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl };
    const gateways = [await startGatewayProcess(env), await startGatewayProcess(env)];

    const stopAt = Date.now() + LOAD_MS + 5_000;
    const loads = Array.from({ length: CONNECTIONS }, (_, i) => load(gateways[i % gateways.length], key, stopAt));
    await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
    await Promise.all(gateways.map((gateway) => gateway.kill()));
    const answered = (await Promise.all(loads)).flat();
    const upstreamCalls = simulator.calls().length;

    let billed = 0;
    for (let batch; (batch = await recovery.governance.billExpiredReservations()) > 0; ) billed += batch;

    const [counters] = await query(recovery.database, 'SELECT SUM(day_requests) AS requests, SUM(tokens) AS tokens, SUM(cost_micro_usd) AS cost FROM tollgate_quota_usage WHERE tenant_id = $1', [tenantId]);
    const [ledger] = await query(
      recovery.database,
      'SELECT COUNT(*) AS requests, SUM(prompt_tokens + completion_tokens) AS tokens, SUM(cost_micro_usd) AS cost FROM tollgate_usage_ledger WHERE tenant_id = $1',
      [tenantId],
    );
    const ledgerIds = new Set((await query<{ request_id: string }>(recovery.database, 'SELECT request_id FROM tollgate_usage_ledger WHERE tenant_id = $1', [tenantId])).map((row) => row.request_id));
    const numbers = (row: Record<string, unknown>) => ({ requests: Number(row.requests), tokens: Number(row.tokens), cost: Number(row.cost) });

    expect(answered.length).toBeGreaterThan(20);
    expect(billed).toBeGreaterThan(0);
    expect(numbers(ledger)).toEqual(numbers(counters));
    expect(answered.filter((id) => !ledgerIds.has(id))).toEqual([]);
    expect(ledgerIds.size).toBe(Number(ledger.requests));
    expect(Number(ledger.requests)).toBeGreaterThanOrEqual(upstreamCalls);
    expect(await query(recovery.database, 'SELECT id FROM tollgate_reservations')).toEqual([]);
  }, 120_000);
}));
