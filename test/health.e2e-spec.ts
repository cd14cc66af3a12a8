import { Database } from '@tollgate/ai/tenancy';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { GatewayUnderTest, startGatewayWithSimulator } from './support/gateway-harness';

describe('Probes and metrics', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
  });
  afterAll(() => gateway.close());

  const get = (path: string) => fetch(`${gateway.url}${path}`);

  it('should be live without asking anything outside the process', async () => {
    const response = await get('/health/live');

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it('should be ready with the database up and the key loaded, showing its fingerprint and never the key', async () => {
    const response = await get('/health/ready');
    const body = await response.text();

    expect(response.status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up', dialect: 'sqlite' }, redis: { status: 'up', configured: false }, upstreamKey: { status: 'up' } },
    });
    expect(JSON.parse(body).details.upstreamKey.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(body).not.toContain('sk-upstream');
  });

  it('should serve Prometheus metrics, the upstream key refreshes among them', async () => {
    const response = await get('/metrics');

    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toContain('tollgate_upstream_key_refreshes_total');
  });

  it('should say in a gauge that the database answers, and have no Redis gauge without Redis', async () => {
    const metrics = await (await get('/metrics')).text();

    expect(metrics).toContain('tollgate_dependency_up{dependency="database"} 1');
    expect(metrics).not.toContain('tollgate_dependency_up{dependency="redis"}');
  });

  it('should not be ready once the database is gone', async () => {
    await gateway.app.get(Database).dataSource.destroy();

    const response = await get('/health/ready');

    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    expect((await get('/health/live')).status).toBe(200);
  });
});

describe('Upstream health (informative, never a probe)', () => {
  let statusPage: Server;
  let indicator = 'none';

  beforeAll(async () => {
    statusPage = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ page: { id: 'openai' }, status: { indicator, description: `indicator ${indicator}` } }));
    });
    await new Promise<void>((resolve) => statusPage.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => statusPage.close(() => resolve())));

  async function gatewayWithStatusPage(env: Record<string, string> = {}): Promise<GatewayUnderTest> {
    const { port } = statusPage.address() as AddressInfo;
    return startGatewayWithSimulator({ OPENAI_STATUS_URL: `http://127.0.0.1:${port}/api/v2/status.json`, ...env });
  }

  it('should be ok while the status page says none and every breaker is closed', async () => {
    indicator = 'none';
    const gateway = await gatewayWithStatusPage();
    await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

    const body = await (await fetch(`${gateway.url}/health/upstream`)).json();

    expect(body).toMatchObject({ status: 'ok', statusPage: { indicator: 'none' }, errorRate: { calls: 1, failures: 0, ratio: 0 } });
    await gateway.close();
  });

  it('should be degraded during a major outage on the status page, while readiness stays up', async () => {
    indicator = 'major';
    const gateway = await gatewayWithStatusPage();

    const upstream = await fetch(`${gateway.url}/health/upstream`);
    const ready = await fetch(`${gateway.url}/health/ready`);

    expect(upstream.status).toBe(200);
    expect(await upstream.json()).toMatchObject({ status: 'degraded', statusPage: { indicator: 'major', description: 'indicator major' } });
    expect(ready.status).toBe(200);
    await gateway.close();
  });

  it('should be degraded while a breaker is open, and count the failures', async () => {
    indicator = 'none';
    const gateway = await gatewayWithStatusPage({ AI_BREAKER_MIN_VOLUME: '1' });
    gateway.simulator.enqueueFaults({ preset: 'server_error', times: 5 });
    await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).catch(() => undefined);

    const body = await (await fetch(`${gateway.url}/health/upstream`)).json();

    expect(body).toMatchObject({ status: 'degraded', breakers: [{ model: 'gpt-4o-mini', state: 'open' }] });
    await gateway.close();
  });
});

describe("Upstream health from OpenAI's incident.io status page", () => {
  let statusPage: Server;
  let summaryAnswers = true;

  beforeAll(async () => {
    statusPage = createServer((request, response) => {
      response.setHeader('content-type', 'application/json');
      if (request.url === '/proxy/status.openai.com' && summaryAnswers) {
        return response.end(
          JSON.stringify({
            summary: {
              components: [{ id: 'c-chat', name: 'Chat Completions' }, { id: 'c-files', name: 'Files' }],
              affected_components: [{ component_id: 'c-chat', status: 'partial_outage' }],
              ongoing_incidents: [{ id: 'i-1', name: 'Increased error rates for Chat Completions', status: 'identified' }],
              in_progress_maintenances: [],
              scheduled_maintenances: [],
            },
          }),
        );
      }
      if (request.url === '/api/v2/status.json') return response.end(JSON.stringify({ status: { indicator: 'minor', description: 'Minor Service Outage' } }));
      response.writeHead(404).end('{}');
    });
    await new Promise<void>((resolve) => statusPage.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => statusPage.close(() => resolve())));

  const summaryUrl = () => `http://127.0.0.1:${(statusPage.address() as AddressInfo).port}/proxy/status.openai.com`;

  it('should name the affected components from the summary', async () => {
    summaryAnswers = true;
    const gateway = await startGatewayWithSimulator({ OPENAI_STATUS_URL: summaryUrl() });

    const body = await (await fetch(`${gateway.url}/health/upstream`)).json();

    expect(body).toMatchObject({
      status: 'degraded',
      statusPage: {
        indicator: 'major',
        source: 'incident.io',
        description: 'Ongoing: Increased error rates for Chat Completions',
        affectedComponents: [{ name: 'Chat Completions', status: 'partial_outage' }],
      },
    });
    await gateway.close();
  });

  it('should fall back to the Statuspage shim when the summary does not answer', async () => {
    summaryAnswers = false;
    const gateway = await startGatewayWithSimulator({ OPENAI_STATUS_URL: summaryUrl() });

    const body = await (await fetch(`${gateway.url}/health/upstream`)).json();

    expect(body).toMatchObject({ status: 'degraded', statusPage: { indicator: 'minor', source: 'statuspage', description: 'Minor Service Outage' } });
    await gateway.close();
  });

  it('should be unknown, not degraded, when no status page answers', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const gateway = await startGatewayWithSimulator({ OPENAI_STATUS_URL: `http://127.0.0.1:${port}/proxy/status.openai.com` });

    const body = await (await fetch(`${gateway.url}/health/upstream`)).json();

    expect(body).toMatchObject({ status: 'unknown', statusPage: { indicator: 'unknown' }, breakers: [] });
    await gateway.close();
  });
});
