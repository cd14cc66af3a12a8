import { Governance } from '@tollgate/ai/tenancy';
import { AdminClient, adminClient, expectOpenAiError } from './support/admin-client';
import { aUserMessage, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';

const DAY_MS = 86_400_000;
const utcDay = (epochMs: number) => new Date(epochMs).toISOString().slice(0, 10);

/** Quotas and usage reports through the admin API, and their effect on a tenant's calls through /v1. */
describe('Admin API: quotas and usage', () => {
  let gateway: GatewayUnderTest;
  let admin: AdminClient;
  let nextId = 0;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
    admin = adminClient(gateway.url);
  });
  afterAll(() => gateway.close());

  async function aTenant(): Promise<string> {
    const id = `quota-${++nextId}`;
    expect((await admin.post('/admin/tenants', { id, name: id })).status).toBe(201);
    return id;
  }

  async function aClientOf(tenantId: string) {
    const { body } = await admin.post(`/admin/tenants/${tenantId}/keys`, {});
    return tenantClient(gateway.url, { apiKey: body.key });
  }

  const chat = (client: ReturnType<typeof tenantClient>) => client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });

  describe('GET /admin/tenants/:id/quota', () => {
    it('should show the plan’s limits, nothing used, and when each window renews', async () => {
      const id = await aTenant();
      const now = new Date();

      const response = await admin.get(`/admin/tenants/${id}/quota`);

      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        tenantId: id,
        plan: 'default',
        limits: {
          requestsPerMinute: 600,
          tokensPerMinute: 1000000,
          requestsPerDay: 100000,
          tokensPerMonth: 100000000,
          costPerMonthUsd: 1000,
          concurrentRequests: 50,
          allowedModels: null,
          fallbackModels: null,
          allowUnknownModels: false,
          contextPolicy: 'reject',
          maxPromptTokens: null,
        },
        requestsPerDay: { limit: 100000, used: 0, remaining: 100000, resetsAt: `${utcDay(now.getTime() + DAY_MS)}T00:00:00.000Z` },
        tokensPerMonth: { limit: 100000000, used: 0, remaining: 100000000, resetsAt: expect.stringMatching(/-01T00:00:00\.000Z$/) },
        costPerMonthUsd: { limit: 1000, used: 0, remaining: 1000, resetsAt: expect.stringMatching(/-01T00:00:00\.000Z$/) },
      });
    });

    it('should answer 404 for an unknown tenant and 400 for a malformed id', async () => {
      expectOpenAiError(await admin.get('/admin/tenants/nobody/quota'), 404, { code: 'tenant_not_found' });
      expectOpenAiError(await admin.get('/admin/tenants/No!/quota'), 400, { param: 'id' });
    });
  });

  describe('PUT /admin/tenants/:id/quota', () => {
    it('should set what is sent, remove what is null, keep what is left out, and round-trip through GET', async () => {
      const id = await aTenant();
      const change = {
        requestsPerDay: 7,
        tokensPerMonth: null,
        costPerMonthUsd: 12.5,
        allowedModels: ['gpt-4o-mini', 'gpt-4o'],
        fallbackModels: { 'gpt-4o': ['gpt-4o-mini'] },
      };

      const put = await admin.put(`/admin/tenants/${id}/quota`, change);
      const get = await admin.get(`/admin/tenants/${id}/quota`);

      expect(put.status).toBe(200);
      expect(get.body).toEqual(put.body);
      expect(get.body.limits).toEqual({
        ...change,
        requestsPerMinute: 600,
        tokensPerMinute: 1000000,
        concurrentRequests: 50,
        allowUnknownModels: false,
        contextPolicy: 'reject',
        maxPromptTokens: null,
      });
      expect(get.body.requestsPerDay).toMatchObject({ limit: 7, remaining: 7 });
      expect(get.body.tokensPerMonth).toMatchObject({ limit: null, remaining: null });
      expect(get.body.costPerMonthUsd).toMatchObject({ limit: 12.5, remaining: 12.5 });
    });

    it('should store exactly the fields sent as overrides, with no field left out turned into a key', async () => {
      const id = await aTenant();

      await admin.put(`/admin/tenants/${id}/quota`, { requestsPerMinute: 5, concurrentRequests: null });

      expect((await admin.get(`/admin/tenants/${id}`)).body.overrides).toEqual({ requestsPerMinute: 5, concurrentRequests: null });
    });

    it('should accept an empty body and change nothing', async () => {
      const id = await aTenant();
      const before = await admin.get(`/admin/tenants/${id}/quota`);

      const response = await admin.put(`/admin/tenants/${id}/quota`, {});

      expect(response.status).toBe(200);
      expect(response.body.limits).toEqual(before.body.limits);
    });

    it.each([
      ['a negative count', { requestsPerMinute: -1 }, 'requestsPerMinute'],
      ['a fractional count', { tokensPerMinute: 1.5 }, 'tokensPerMinute'],
      ['a count sent as a string', { requestsPerDay: '5' }, 'requestsPerDay'],
      ['a negative monthly tokens', { tokensPerMonth: -100 }, 'tokensPerMonth'],
      ['a boolean count', { concurrentRequests: true }, 'concurrentRequests'],
      ['a negative cost', { costPerMonthUsd: -0.01 }, 'costPerMonthUsd'],
      ['a cost sent as a string', { costPerMonthUsd: '10' }, 'costPerMonthUsd'],
      ['models that are not a list', { allowedModels: 'gpt-4o' }, 'allowedModels'],
      ['models that are not names', { allowedModels: [1] }, 'allowedModels'],
      ['fallbacks that are not lists', { fallbackModels: { 'gpt-4o': 'gpt-4o-mini' } }, 'fallbackModels'],
      ['fallbacks that are not a map', { fallbackModels: ['gpt-4o-mini'] }, 'fallbackModels'],
      ['an unknown limit', { requestsPerHour: 10 }, 'requestsPerHour'],
      ['a count beyond BIGINT (2^63)', { requestsPerDay: 2 ** 63 }, 'requestsPerDay'],
      ['a count of 1e300', { tokensPerMonth: 1e300 }, 'tokensPerMonth'],
      ['a count beyond the safe integers', { requestsPerMinute: 2 ** 53 }, 'requestsPerMinute'],
      ['a prompt limit beyond BIGINT', { maxPromptTokens: 2 ** 64 }, 'maxPromptTokens'],
      ['a cost that overflows BIGINT in micro-USD (1e15)', { costPerMonthUsd: 1e15 }, 'costPerMonthUsd'],
      ['a NUL in an allowed model', { allowedModels: ['gpt-4o-mini\u0000'] }, 'allowedModels'],
      ['a NUL in a fallback model', { fallbackModels: { 'gpt-4o': ['gpt-4o-mini\u0000'] } }, 'fallbackModels'],
    ])('should refuse %s with 400 naming the field, and change nothing', async (_case, body, param) => {
      const id = await aTenant();

      expectOpenAiError(await admin.put(`/admin/tenants/${id}/quota`, body), 400, { code: null, param });
      expect((await admin.get(`/admin/tenants/${id}`)).body.overrides).toEqual({});
    });

    it('should take the largest limits that fit, and the tenant’s calls still succeed', async () => {
      const id = await aTenant();
      const largest = { requestsPerDay: Number.MAX_SAFE_INTEGER, tokensPerMonth: Number.MAX_SAFE_INTEGER, costPerMonthUsd: 9_007_199_254 };

      const response = await admin.put(`/admin/tenants/${id}/quota`, largest);

      expect(response.status).toBe(200);
      expect(response.body.limits).toMatchObject(largest);
      expect((await chat(await aClientOf(id))).object).toBe('chat.completion');
    });

    it('should refuse a model that config/models.yaml does not know with 400 invalid_limits', async () => {
      const id = await aTenant();

      const response = await admin.put(`/admin/tenants/${id}/quota`, { allowedModels: ['gpt-4o-mini', 'gpt-9'] });

      expectOpenAiError(response, 400, { code: 'invalid_limits', param: 'allowedModels' });
      expect(response.body.error.message).toContain("'gpt-9'");
    });

    it('should answer 404 for an unknown tenant and 400 for a malformed id', async () => {
      expectOpenAiError(await admin.put('/admin/tenants/nobody/quota', { requestsPerDay: 1 }), 404, { code: 'tenant_not_found' });
      expectOpenAiError(await admin.put('/admin/tenants/No!/quota', { requestsPerDay: 1 }), 400, { param: 'id' });
    });

    it('should refuse the third request of a requestsPerDay: 2 tenant with 429 tenant_quota_exceeded, Retry-After and x-ratelimit-* headers', async () => {
      const id = await aTenant();
      await admin.put(`/admin/tenants/${id}/quota`, { requestsPerDay: 2 });
      const client = await aClientOf(id);
      await chat(client);
      await chat(client);

      const error = await rejectionOf(chat(client));

      expect(error.status).toBe(429);
      expect(error.code).toBe('tenant_quota_exceeded');
      expect(error.type).toBe('insufficient_quota');
      expect(Number(error.headers?.get('retry-after'))).toBeGreaterThan(0);
      expect(error.headers?.get('x-ratelimit-limit-requests')).toBe('600');
      expect(error.headers?.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/);
      expect(error.headers?.get('x-ratelimit-reset-requests')).toMatch(/s$/);
      expect(error.headers?.get('x-ratelimit-remaining-tokens')).toMatch(/^\d+$/);
      expect((await admin.get(`/admin/tenants/${id}/quota`)).body.requestsPerDay).toMatchObject({ limit: 2, used: 2, remaining: 0 });
    });
  });

  describe('GET /admin/tenants/:id/usage', () => {
    let tenantId: string;

    // One tenant with two requests in the ledger: one each to two models.
    beforeAll(async () => {
      tenantId = await aTenant();
      const client = await aClientOf(tenantId);
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
      await client.chat.completions.create({ model: 'gpt-4.1-mini', messages: aUserMessage() });
      await gateway.app.get(Governance).drain();
    });

    it('should report this month by UTC day by default', async () => {
      const now = Date.now();

      const response = await admin.get(`/admin/tenants/${tenantId}/usage`);

      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        object: 'list',
        tenantId,
        from: `${utcDay(now).slice(0, 7)}-01T00:00:00.000Z`,
        to: expect.stringMatching(new RegExp(`^${utcDay(now)}T`)),
        groupBy: 'day',
        data: [
          {
            key: utcDay(now),
            requests: 2,
            promptTokens: expect.any(Number),
            completionTokens: expect.any(Number),
            cachedTokens: 0,
            reasoningTokens: 0,
            costUsd: expect.any(Number),
            failures: 0,
          },
        ],
      });
      expect(response.body.data[0].promptTokens).toBeGreaterThan(0);
      expect(response.body.data[0].costUsd).toBeGreaterThan(0);
    });

    it('should report by model', async () => {
      const response = await admin.get(`/admin/tenants/${tenantId}/usage?groupBy=model`);

      expect(response.status).toBe(200);
      expect(response.body.data).toEqual([
        expect.objectContaining({ key: 'gpt-4.1-mini', requests: 1, failures: 0 }),
        expect.objectContaining({ key: 'gpt-4o-mini', requests: 1, failures: 0 }),
      ]);
    });

    it('should take dates as whole UTC days, the last one included', async () => {
      const today = utcDay(Date.now());
      const yesterday = utcDay(Date.now() - DAY_MS);

      const todayOnly = await admin.get(`/admin/tenants/${tenantId}/usage?from=${today}&to=${today}`);
      const yesterdayOnly = await admin.get(`/admin/tenants/${tenantId}/usage?from=${yesterday}&to=${yesterday}`);

      expect(todayOnly.body).toMatchObject({ from: `${today}T00:00:00.000Z`, to: `${utcDay(Date.now() + DAY_MS)}T00:00:00.000Z` });
      expect(todayOnly.body.data).toEqual([expect.objectContaining({ key: today, requests: 2 })]);
      expect(yesterdayOnly.status).toBe(200);
      expect(yesterdayOnly.body.data).toEqual([]);
    });

    it('should take date-times with a zone, the end excluded', async () => {
      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 3_600_000).toISOString().replace('Z', '+00:00');

      const response = await admin.get(`/admin/tenants/${tenantId}/usage?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&groupBy=model`);

      expect(response.status).toBe(200);
      expect(response.body.from).toBe(from);
      expect(response.body.data).toHaveLength(2);
    });

    it.each([
      ['a date that does not exist', 'from=2026-02-30', 'from'],
      ['a word for a date', 'from=yesterday', 'from'],
      ['an empty date', 'to=', 'to'],
      ['a date-time without a zone', 'to=2026-11-01T10:00:00', 'to'],
      ['an end before the start', 'from=2026-11-02&to=2026-11-01T00:00:00Z', 'to'],
      ['an unknown grouping', 'groupBy=week', 'groupBy'],
      ['an unknown parameter', 'tenant=other', 'tenant'],
    ])('should refuse %s with 400 naming the parameter', async (_case, query, param) => {
      expectOpenAiError(await admin.get(`/admin/tenants/${tenantId}/usage?${query}`), 400, { code: null, param });
    });

    it('should answer 404 for an unknown tenant and 400 for a malformed id', async () => {
      expectOpenAiError(await admin.get('/admin/tenants/nobody/usage'), 404, { code: 'tenant_not_found' });
      expectOpenAiError(await admin.get('/admin/tenants/No!/usage'), 400, { param: 'id' });
    });
  });
});
