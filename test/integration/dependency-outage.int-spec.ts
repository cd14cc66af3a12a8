import { UNLIMITED } from '@tollgate/ai';
import { randomBytes } from 'node:crypto';
import { describeWithPostgres, describeWithRedis, postgresDatabases } from '../../libs/ai/test/integration/services';
import { adminClient } from '../support/admin-client';
import { aUserMessage, createTenant, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from '../support/gateway-harness';
import { eventually, JobsClient } from '../support/jobs-client';
import { startTcpProxy, targetOf, TcpProxy, throughProxy } from '../support/tcp-proxy';

/**
 * Outages of the gateway's own dependencies, made by cutting a loopback proxy in front of the real
 * PostgreSQL or Redis (the services themselves stay up for the other suites). Redis only shares
 * limits and dispatches jobs, so its loss degrades the replica; the database holds tenants, keys
 * and quotas, so its loss makes the replica refuse what needs it, with a 503 that says when to retry.
 */
const aChat = { model: 'gpt-4o-mini', messages: aUserMessage() };

/** Limits that make every request go through the Redis limiters. */
const LIMITED = { ...UNLIMITED, requestsPerMinute: 1_000, tokensPerMinute: 1_000_000, concurrentRequests: 10 };

const ready = (gateway: GatewayUnderTest) => fetch(`${gateway.url}/health/ready`);

async function gaugeOf(gateway: GatewayUnderTest, dependency: string): Promise<number | undefined> {
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`tollgate_dependency_up{dependency="${dependency}"}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/** What the gateway logged about a dependency's state, in order. */
const transitionsOf = (gateway: GatewayUnderTest, dependency: string) =>
  gateway.log
    .entries()
    .map((entry) => String(entry.msg))
    .filter((msg) => msg.startsWith(`${dependency} unreachable`) || msg.startsWith(`${dependency} reachable again`));

describeWithRedis('A Redis outage', (redisUrl) => {
  let proxy: TcpProxy;
  let gateway: GatewayUnderTest;
  let tenantKey: string;

  beforeAll(async () => {
    proxy = await startTcpProxy(targetOf(redisUrl, 6379));
    gateway = await startGatewayWithSimulator({
      REDIS_URL: throughProxy(redisUrl, proxy),
      AI_JOBS_QUEUE_PREFIX: `tg-outage-${randomBytes(4).toString('hex')}`,
      AI_JOBS_LEASE_MS: '1000',
    });
    tenantKey = await createTenant(gateway.app, `redis-outage-${randomBytes(4).toString('hex')}`, LIMITED);
  });
  afterAll(async () => {
    await proxy.restore();
    await gateway.close();
    await proxy.close();
  });

  it('should keep the replica ready and serving, its readiness and gauge saying Redis is degraded', async () => {
    const client = tenantClient(gateway.url, { apiKey: tenantKey });

    await proxy.cut();

    const answers = await Promise.all(Array.from({ length: 5 }, () => client.chat.completions.create(aChat)));
    expect(answers.every((answer) => answer.choices[0].message.content)).toBe(true);
    const probe = await ready(gateway);
    expect(probe.status).toBe(200);
    expect(await probe.json()).toMatchObject({ status: 'ok', details: { redis: { status: 'up', configured: true, degraded: true } } });
    expect(await gaugeOf(gateway, 'redis')).toBe(0);
  });

  it('should accept a job submitted while Redis is down with 202, and run it once Redis is back', async () => {
    const jobs = new JobsClient(gateway.url, tenantKey);

    const submitted = await jobs.submit(aChat);
    expect(submitted.status).toBe(202);
    await proxy.restore();

    expect((await jobs.finished(submitted.body.id, 15_000)).status).toBe('succeeded');
  }, 20_000);

  it('should say Redis is up again once it is back, having logged one line each way', async () => {
    await eventually(async () => expect(await gaugeOf(gateway, 'redis')).toBe(1), 10_000);

    expect(await (await ready(gateway)).json()).toMatchObject({ details: { redis: { status: 'up', configured: true, degraded: false } } });
    expect(transitionsOf(gateway, 'redis')).toEqual([expect.stringMatching(/^redis unreachable/), expect.stringMatching(/^redis reachable again/)]);
  }, 15_000);
});

describeWithPostgres('A PostgreSQL outage', (databaseServer) => {
  const databases = postgresDatabases(databaseServer);
  let proxy: TcpProxy;
  let gateway: GatewayUnderTest;
  const admin = () => adminClient(gateway.url);

  beforeAll(async () => {
    proxy = await startTcpProxy(targetOf(databaseServer, 5432));
    gateway = await startGatewayWithSimulator({ DATABASE_URL: throughProxy(await databases.fresh(), proxy) });
  });
  afterAll(async () => {
    await proxy.restore();
    await gateway.close();
    await proxy.close();
  });

  it('should refuse chat requests and admin calls with 503 dependency_unavailable and a Retry-After, naming the database but not its address', async () => {
    await proxy.cut();

    const chats = await Promise.all(Array.from({ length: 5 }, () => rejectionOf(gateway.client.chat.completions.create(aChat))));
    const tenants = await admin().get('/admin/tenants');

    for (const { status, headers, error } of chats) {
      expect(status).toBe(503);
      expect(Number(headers?.get('retry-after'))).toBeGreaterThan(0);
      expect(error).toMatchObject({ type: 'server_error', code: 'dependency_unavailable', param: null });
    }
    expect(tenants.status).toBe(503);
    expect(Number(tenants.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Object.keys(tenants.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(tenants.body.error).toMatchObject({ type: 'server_error', code: 'dependency_unavailable' });
    for (const message of [tenants.body.error.message, ...chats.map((chat) => chat.message)]) {
      expect(message).toContain('database');
      expect(message).not.toMatch(/127\.0\.0\.1|postgres:\/\/|ECONNREFUSED|\d{4,5}/);
    }
  });

  it('should not be ready while the database is down, without showing its address', async () => {
    const probe = await ready(gateway);
    const body = await probe.text();

    expect(probe.status).toBe(503);
    expect(JSON.parse(body)).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    expect(body).not.toContain(String(proxy.port));
    expect(await gaugeOf(gateway, 'database')).toBe(0);
  });

  it('should serve again once the database is back, having logged one line when it went and one when it came back', async () => {
    await proxy.restore();

    await gateway.client.chat.completions.create(aChat);
    expect((await ready(gateway)).status).toBe(200);
    expect(await gaugeOf(gateway, 'database')).toBe(1);
    expect(transitionsOf(gateway, 'database')).toEqual([expect.stringMatching(/^database unreachable/), expect.stringMatching(/^database reachable again/)]);
    expect(gateway.log.entries().filter((entry) => String(entry.msg).includes('failed unexpectedly'))).toEqual([]);
    // One line per request still, the access log's, but without a stack trace: the outage is told once, above.
    const refused = gateway.log.entries().filter((entry) => entry.errorCode === 'dependency_unavailable');
    expect(refused.length).toBeGreaterThanOrEqual(6);
    expect(refused.filter((entry) => JSON.stringify(entry).includes('"stack"'))).toEqual([]);
  });
});
