import { ApiKeyService, Governance, QuotaService, TenantService, UsageService } from '@tollgate/ai/tenancy';
import OpenAI from 'openai';
import { aUserMessage, createTenant, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';

/** The tenant's side of the request path, through the gateway over real HTTP with the official SDK. */
describe('Tenant governance through the gateway', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_KEY_CACHE_TTL_MS: '0' });
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.simulator.reset());

  const clientOf = (key: string) => tenantClient(gateway.url, { apiKey: key });
  const chat = (client: OpenAI, model = 'gpt-4o-mini') => client.chat.completions.create({ model, messages: aUserMessage() });
  let seq = 0;
  const newTenant = (limits = {}, plan?: string) => createTenant(gateway.app, `gov-${++seq}`, limits, plan);

  it.each([
    ['no key', undefined],
    ['a malformed key', 'sk-not-ours'],
    ['an unknown key', `tg-${'a'.repeat(40)}`],
  ])('should refuse %s with 401 invalid_api_key', async (_case, key) => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: aUserMessage() }),
    });

    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  it('should stop accepting a revoked key', async () => {
    const key = await newTenant();
    await chat(clientOf(key));
    const [{ id: keyId }] = await gateway.app.get(ApiKeyService).list(`gov-${seq}`);

    await gateway.app.get(ApiKeyService).revoke(`gov-${seq}`, keyId);

    await expect(chat(clientOf(key))).rejects.toMatchObject({ status: 401 });
  });

  it('should stop accepting the keys of a disabled tenant', async () => {
    const key = await newTenant();

    await gateway.app.get(TenantService).disable(`gov-${seq}`);

    await expect(chat(clientOf(key))).rejects.toMatchObject({ status: 401 });
  });

  it('should send the tenant’s own x-ratelimit-* headers with every answer', async () => {
    const key = await newTenant({ requestsPerMinute: 50, tokensPerMinute: 100_000 });

    const { response } = await chat(clientOf(key)).withResponse();

    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('50');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('49');
    expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+m)?[\d.]+m?s$/);
    expect(Number(response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(100_000);
    expect(response.headers.get('x-ratelimit-reset-tokens')).toMatch(/s$/);
  });

  it('should refuse requests over the requests-per-minute limit with 429 rate_limit_exceeded, Retry-After and headers', async () => {
    const key = await newTenant({ requestsPerMinute: 2 });
    const client = clientOf(key);
    await chat(client);
    await chat(client);

    const error = await rejectionOf(chat(client));

    expect(error.status).toBe(429);
    expect(error.code).toBe('rate_limit_exceeded');
    expect(Number(error.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(error.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(gateway.simulator.calls()).toHaveLength(2);
  });

  it('should refuse a request whose estimate no longer fits the tokens-per-minute limit', async () => {
    const key = await newTenant({ tokensPerMinute: 5_000 });
    gateway.simulator.configure({ latencyMs: 300 });
    const client = clientOf(key);
    const large = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage(), max_tokens: 3_000 });

    // Both in flight at once: the second's estimate meets the first's, not yet settled to its real usage.
    const outcomes = await Promise.allSettled([large(), large()]);

    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ status: 429, code: 'rate_limit_exceeded', type: 'tokens' });
  });

  it('should settle the token limit to real usage, so that a large estimate does not hold the minute', async () => {
    const key = await newTenant({ tokensPerMinute: 5_000 });
    const client = clientOf(key);
    const large = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage(), max_tokens: 3_000 });
    await large();
    await gateway.app.get(Governance).drain();

    await expect(large()).resolves.toMatchObject({ object: 'chat.completion' });
  });

  it('should refuse a request beyond the tenant’s requests in flight', async () => {
    const key = await newTenant({ concurrentRequests: 1 });
    gateway.simulator.configure({ latencyMs: 500 });
    const client = clientOf(key);

    const outcomes = await Promise.allSettled([chat(client), chat(client)]);

    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
  });

  it('should refuse a model outside the tenant’s plan with 403 model_not_allowed and no upstream call', async () => {
    const key = await newTenant({}, 'free');

    const error = await rejectionOf(chat(clientOf(key), 'gpt-4o'));

    expect(error.status).toBe(403);
    expect(error.code).toBe('model_not_allowed');
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  it('should refuse the request past the daily quota with 429 tenant_quota_exceeded and keep the ledger', async () => {
    const key = await newTenant({ requestsPerDay: 2 });
    const tenantId = `gov-${seq}`;
    const client = clientOf(key);
    await chat(client);
    await chat(client);

    const error = await rejectionOf(chat(client));
    await gateway.app.get(Governance).drain();

    expect(error.status).toBe(429);
    expect(error.code).toBe('tenant_quota_exceeded');
    expect(Number(error.headers?.get('retry-after'))).toBeGreaterThan(0);
    const quota = await gateway.app.get(QuotaService).view(tenantId);
    expect(quota.requestsPerDay).toMatchObject({ limit: 2, used: 2, remaining: 0 });
    const usage = await gateway.app.get(UsageService).summarize(tenantId, { from: 0, to: Date.now() + 1, groupBy: 'model' });
    expect(usage).toEqual([expect.objectContaining({ key: 'gpt-4o-mini', requests: 2, failures: 0 })]);
    expect(usage[0].promptTokens).toBeGreaterThan(0);
    expect(usage[0].costUsd).toBeGreaterThan(0);
  });

  it('should write a ledger row for a failed request and for a stream, with the stream’s real usage', async () => {
    const key = await newTenant();
    const tenantId = `gov-${seq}`;
    const client = clientOf(key);
    gateway.simulator.enqueueFaults({ preset: 'bad_request' });
    await rejectionOf(chat(client));
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage(), stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);

    await gateway.app.get(Governance).drain();

    expect(chunks.every((chunk) => chunk.choices.length > 0)).toBe(true);
    const usage = await gateway.app.get(UsageService).summarize(tenantId, { from: 0, to: Date.now() + 1, groupBy: 'model' });
    expect(usage).toEqual([expect.objectContaining({ requests: 2, failures: 1, completionTokens: 12 })]);
  });
});
