import { NestApplicationContext } from '@nestjs/core';
import { AlertEvaluator } from '@tollgate/ai';
import { Governance } from '@tollgate/ai/tenancy';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminClient } from './support/admin-client';
import { aUserMessage, createTenant, eventually, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient, UPSTREAM_KEY } from './support/gateway-harness';
import { startWebhookReceiver, WebhookReceiver } from '../libs/ai/test/webhook-receiver';

describe('The request log: one JSON line per request', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
  });
  afterAll(() => gateway.close());

  const lineOf = async (requestId: string) => {
    // The line is written when the response has ended, a moment after the client has read it.
    let line: Record<string, unknown> | undefined;
    await eventually(() => expect((line = gateway.log.requests().find((entry) => entry.requestId === requestId))).toBeDefined());
    return line!;
  };

  it("should log a served request with every field, its id taken from the caller's x-request-id", async () => {
    const tenantId = 'logged';
    const key = await createTenant(gateway.app, tenantId);
    const client = tenantClient(gateway.url, { apiKey: key, defaultHeaders: { 'x-request-id': 'req-served-1' } });
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage('My secret plan is to win.') }).withResponse();

    const line = await lineOf('req-served-1');
    expect(line).toEqual(
      expect.objectContaining({
        level: 30,
        msg: 'request completed',
        requestId: 'req-served-1',
        req: { method: 'POST', url: '/v1/chat/completions' },
        res: { statusCode: 200 },
        tenant: tenantId,
        keyId: expect.any(String),
        modelRequested: 'gpt-4o-mini',
        modelServed: 'gpt-4o-mini',
        upstreamRequestId: completion.response.headers.get('x-upstream-request-id'),
        promptTokens: completion.data.usage!.prompt_tokens,
        completionTokens: completion.data.usage!.completion_tokens,
        costUsd: expect.any(Number),
        attempts: 1,
        breakerState: 'closed',
        outcome: 'success',
        errorCode: null,
        latencyMs: expect.any(Number),
      }),
    );
    expect(line.upstreamRequestId).toEqual(expect.any(String));
    expect(line.costUsd).toBeGreaterThan(0);
    expect(JSON.stringify(gateway.log.lines)).not.toContain('My secret plan');
    expect(JSON.stringify(line)).not.toContain(key);
  });

  it('should log a failed request with its error code, attempts and the breaker state', async () => {
    gateway.simulator.enqueueFaults({ preset: 'server_error', times: 10, match: { model: 'm-log-failing' } });
    const client = tenantClient(gateway.url, { apiKey: gateway.tenantKey, defaultHeaders: { 'x-request-id': 'req-failed-1' } });
    await rejectionOf(client.chat.completions.create({ model: 'm-log-failing', messages: aUserMessage() }));

    expect(await lineOf('req-failed-1')).toEqual(
      expect.objectContaining({
        res: { statusCode: 503 },
        modelRequested: 'm-log-failing',
        outcome: 'upstream_unavailable',
        errorCode: 'upstream_unavailable',
        attempts: 3,
        breakerState: expect.stringMatching(/^(closed|open|half_open)$/),
        promptTokens: 0,
        completionTokens: 0,
      }),
    );
  });

  it('should log a refused key as invalid_api_key, without the key or the Authorization header', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tg-not-a-real-key-0000000000000000000', 'content-type': 'application/json', 'x-request-id': 'req-bad-key' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: aUserMessage() }),
    });
    expect(response.status).toBe(401);

    const line = await lineOf('req-bad-key');
    expect(line).toEqual(expect.objectContaining({ res: { statusCode: 401 }, outcome: 'invalid_api_key', errorCode: 'invalid_api_key' }));
    expect(JSON.stringify(gateway.log.lines)).not.toContain('tg-not-a-real-key');
    expect(JSON.stringify(gateway.log.lines).toLowerCase()).not.toContain('bearer');
    expect(JSON.stringify(gateway.log.lines)).not.toContain(UPSTREAM_KEY);
  });

  it("should log a stream's tokens and outcome when it ends", async () => {
    const client = tenantClient(gateway.url, { apiKey: gateway.tenantKey, defaultHeaders: { 'x-request-id': 'req-stream-1' } });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage(), stream: true });
    for await (const _chunk of stream);

    expect(await lineOf('req-stream-1')).toEqual(
      expect.objectContaining({ res: { statusCode: 200 }, outcome: 'success', modelServed: 'gpt-4o-mini', completionTokens: expect.any(Number), attempts: 1 }),
    );
  });

  it("should log a tenant's prompt and completion only once an operator turned it on for that tenant", async () => {
    const tenantId = 'content-logged';
    const client = tenantClient(gateway.url, { apiKey: await createTenant(gateway.app, tenantId) });
    const admin = adminClient(gateway.url);
    const send = (requestId: string) =>
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage('Remember the word pelican.') }, { headers: { 'x-request-id': requestId } });

    await send('req-content-off');
    expect((await lineOf('req-content-off')).content).toBeUndefined();

    expect((await admin.patch(`/admin/tenants/${tenantId}`, { logContent: true })).body.logContent).toBe(true);
    await send('req-content-on');
    const line = await lineOf('req-content-on');
    expect(line.content).toEqual({ messages: [{ role: 'user', content: 'Remember the word pelican.' }], completion: expect.stringContaining('Lorem') });
  });

  it('should not log probes and scrapes', async () => {
    await fetch(`${gateway.url}/health/live`);
    await fetch(`${gateway.url}/metrics`);
    await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${gateway.tenantKey}`, 'x-request-id': 'req-after-probes' } });
    await lineOf('req-after-probes');
    const urls = gateway.log.requests().map((entry) => (entry.req as { url: string }).url);
    expect(urls.filter((url) => url.startsWith('/health') || url === '/metrics')).toEqual([]);
  });
});

describe('Alerts on patterns', () => {
  let gateway: GatewayUnderTest;
  let webhook: WebhookReceiver;
  let configDir: string;
  const admin = () => adminClient(gateway.url);

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    configDir = mkdtempSync(join(tmpdir(), 'tollgate-alerts-'));
    for (const file of ['models.yaml', 'plans.yaml']) copyFileSync(join('config', file), join(configDir, file));
    writeFileSync(
      join(configDir, 'alerts.yaml'),
      [
        'rules:',
        '  - { name: TenantQuotaAt80Percent, kind: quota_used, severity: warning, atLeastRatio: 0.8 }',
        '  - { name: UpstreamQuotaExhausted, kind: outcome_seen, severity: critical, outcome: upstream_quota_exhausted, windowMs: 1500 }',
      ].join('\n'),
    );
    // Evaluations are run by the test, not by the timer.
    gateway = await startGatewayWithSimulator({ CONFIG_DIR: configDir, ALERT_WEBHOOK_URL: webhook.url, ALERT_EVALUATION_INTERVAL_MS: '3600000' });
  });
  afterAll(async () => {
    await gateway.close();
    await webhook.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  const evaluate = async () => {
    await gateway.app.get(Governance).drain();
    await gateway.app.get(AlertEvaluator).evaluate();
  };
  const posted = () => webhook.received.map(({ rawBody }) => JSON.parse(rawBody) as { text: string; attachments: Array<{ color: string }> });
  const notified = () => posted().map(({ text }) => text);

  it('should alert once when a tenant reaches 80% of a quota, list it, export what is left, and resolve once the limit is raised', async () => {
    const tenantId = 'nearly-spent';
    const client = tenantClient(gateway.url, { apiKey: await createTenant(gateway.app, tenantId, { tokensPerMonth: 100 }) });
    // Each call bills 22 tokens (10 prompt, 12 completion): 66% after three, 88% after four.
    const call = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage(), max_tokens: 12 });
    for (let i = 0; i < 3; i++) await call();
    await evaluate();
    expect(notified()).toEqual([]);

    await call();
    await evaluate();
    expect((await rejectionOf(call())).code).toBe('tenant_quota_exceeded');
    await evaluate();
    await evaluate();

    expect(notified()).toEqual([expect.stringMatching(/^\[FIRING\] TenantQuotaAt80Percent \(warning\) tenant=nearly-spent quota=tokens_per_month: Tenant nearly-spent has used 88\.0% of its tokens per month quota\.$/)]);
    expect(posted()[0].attachments[0].color).toBe('warning');
    expect((await admin().get('/admin/alerts')).body).toEqual({
      object: 'list',
      data: [expect.objectContaining({ name: 'TenantQuotaAt80Percent', state: 'firing', labels: { tenant: tenantId, quota: 'tokens_per_month' } })],
    });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/tollgate_tenant_quota_remaining_ratio\{tenant="nearly-spent",quota="tokens_per_month"\} 0\.12/);

    await admin().put(`/admin/tenants/${tenantId}/quota`, { tokensPerMonth: 100_000 });
    await evaluate();
    expect(notified()).toEqual([expect.stringMatching(/^\[FIRING\] TenantQuotaAt80Percent/), expect.stringMatching(/^\[RESOLVED\] TenantQuotaAt80Percent/)]);
    expect((await admin().get('/admin/alerts')).body.data).toEqual([]);
  });

  it('should alert once on insufficient_quota however many calls hit it, and resolve when the window has passed without one', async () => {
    webhook.received.length = 0;
    gateway.simulator.enqueueFaults({ preset: 'insufficient_quota', times: 3, match: { model: 'm-no-credit' } });
    for (let i = 0; i < 3; i++) await rejectionOf(gateway.client.chat.completions.create({ model: 'm-no-credit', messages: aUserMessage() }));
    await evaluate();
    await evaluate();
    expect(notified()).toEqual([expect.stringMatching(/^\[FIRING\] UpstreamQuotaExhausted \(critical\) model=m-no-credit: /)]);

    await eventually(async () => {
      await evaluate();
      expect(notified()).toHaveLength(2);
    }, 5_000);
    expect(notified()[1]).toMatch(/^\[RESOLVED\] UpstreamQuotaExhausted \(critical\) model=m-no-credit/);
  });
});

describe('Graceful shutdown: readiness first', () => {
  it('should fail readiness at once on SIGTERM while still serving, then close', async () => {
    const gateway = await startGatewayWithSimulator({ SHUTDOWN_READINESS_DELAY_MS: '1500' });
    expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(200);

    // What Nest's SIGTERM handler runs (NestApplicationContext.close takes the signal; the interface omits it).
    const closed = (gateway.app as unknown as NestApplicationContext).close('SIGTERM');
    await eventually(async () => expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(503));
    const ready = (await (await fetch(`${gateway.url}/health/ready`)).json()) as { error: Record<string, unknown> };
    expect(ready.error.shutdown).toEqual({ status: 'down', message: 'shutting down' });
    const served = await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    expect(served.choices[0].message.content).toEqual(expect.any(String));

    await closed;
    await expect(fetch(`${gateway.url}/health/live`)).rejects.toThrow();
    await gateway.simulator.close();
  });
});
