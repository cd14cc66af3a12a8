import { AdminClient, adminClient, expectOpenAiError } from './support/admin-client';
import { ADMIN_TOKEN, aUserMessage, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';

// Longer than any test: disabling, re-enabling and revoking must take effect at once on this replica, not a TTL later.
const KEY_CACHE_TTL_MS = 60_000;
const UNKNOWN_KEY_ID = '00000000-0000-4000-8000-000000000000';

/** Tenants and their keys through the admin API, over real HTTP; keys are then used with the official OpenAI SDK. */
describe('Admin API: tenants and keys', () => {
  let gateway: GatewayUnderTest;
  let admin: AdminClient;
  let nextId = 0;
  const newTenantId = () => `tenant-${++nextId}`;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_KEY_CACHE_TTL_MS: String(KEY_CACHE_TTL_MS) });
    admin = adminClient(gateway.url);
  });
  afterAll(() => gateway.close());

  async function aTenant(body: Record<string, unknown> = {}): Promise<string> {
    const id = newTenantId();
    expect((await admin.post('/admin/tenants', { id, name: `Tenant ${id}`, ...body })).status).toBe(201);
    return id;
  }

  async function aKeyOf(tenantId: string): Promise<{ id: string; key: string }> {
    const response = await admin.post(`/admin/tenants/${tenantId}/keys`, { name: 'e2e' });
    expect(response.status).toBe(201);
    return response.body;
  }

  const chatWith = (apiKey: string) => tenantClient(gateway.url, { apiKey }).chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });

  describe('POST /admin/tenants', () => {
    it('should create a tenant on the default plan and answer 201 with it', async () => {
      const response = await admin.post('/admin/tenants', { id: 'acme', name: 'Acme Corp' });

      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: 'acme',
        name: 'Acme Corp',
        plan: 'default',
        status: 'active',
        limits: expect.objectContaining({ requestsPerMinute: 600, requestsPerDay: 100000, allowedModels: null }),
        overrides: {},
        logContent: false,
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        updatedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      });
    });

    it('should generate an id when none is given', async () => {
      const response = await admin.post('/admin/tenants', { name: 'No id' });

      expect(response.status).toBe(201);
      expect(response.body.id).toMatch(/^tn_[0-9a-f]{16}$/);
    });

    it('should create a tenant on a named plan, with that plan’s limits', async () => {
      const response = await admin.post('/admin/tenants', { id: newTenantId(), name: 'Free', plan: 'free' });

      expect(response.status).toBe(201);
      expect(response.body.plan).toBe('free');
      expect(response.body.limits).toMatchObject({ requestsPerMinute: 20, allowedModels: ['gpt-4o-mini', 'gpt-4.1-mini'] });
    });

    it('should refuse an id that exists with 409 tenant_exists', async () => {
      const id = await aTenant();

      expectOpenAiError(await admin.post('/admin/tenants', { id, name: 'Again' }), 409, { code: 'tenant_exists', param: 'id' });
    });

    it('should refuse an unknown plan with 400 unknown_plan', async () => {
      const response = await admin.post('/admin/tenants', { id: newTenantId(), name: 'Gold', plan: 'gold' });

      expectOpenAiError(response, 400, { code: 'unknown_plan', param: 'plan' });
      expect(response.body.error.message).toContain('default, free, pro');
    });

    it.each([
      ['a missing name', { id: 'x-1' }, 'name'],
      ['an empty name', { id: 'x-2', name: '' }, 'name'],
      ['a null name', { id: 'x-3', name: null }, 'name'],
      ['a malformed id', { id: 'Not Valid!', name: 'x' }, 'id'],
      ['an id of 65 characters', { id: 'a'.repeat(65), name: 'x' }, 'id'],
      ['a null id', { id: null, name: 'x' }, 'id'],
      ['a null plan', { id: 'x-4', name: 'x', plan: null }, 'plan'],
      ['an unknown field', { id: 'x-5', name: 'x', owner: 'me' }, 'owner'],
      ['a NUL in the name', { id: 'x-6', name: 'Acme\u0000' }, 'name'],
      ['a NUL in the plan', { id: 'x-7', name: 'x', plan: 'pro\u0000' }, 'plan'],
    ])('should refuse %s with 400 naming the field', async (_case, body, param) => {
      expectOpenAiError(await admin.post('/admin/tenants', body), 400, { code: null, param });
    });
  });

  describe('GET /admin/tenants and /admin/tenants/:id', () => {
    it('should list the tenants, in OpenAI’s list shape', async () => {
      const id = await aTenant();

      const response = await admin.get('/admin/tenants');

      expect(response.status).toBe(200);
      expect(response.body.object).toBe('list');
      expect(response.body.data).toEqual(expect.arrayContaining([expect.objectContaining({ id, status: 'active' })]));
    });

    it('should get one tenant', async () => {
      const id = await aTenant({ plan: 'pro' });

      const response = await admin.get(`/admin/tenants/${id}`);

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id, plan: 'pro', status: 'active' });
    });

    it('should answer 404 tenant_not_found for an unknown tenant', async () => {
      expectOpenAiError(await admin.get('/admin/tenants/nobody'), 404, { code: 'tenant_not_found' });
    });

    it('should answer 400 naming id for a malformed tenant id', async () => {
      expectOpenAiError(await admin.get('/admin/tenants/Not%20Valid'), 400, { code: null, param: 'id' });
    });
  });

  describe('PATCH /admin/tenants/:id', () => {
    it('should rename a tenant and change its plan, keeping what was left out', async () => {
      const id = await aTenant();

      const response = await admin.patch(`/admin/tenants/${id}`, { name: 'Renamed', plan: 'pro' });

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id, name: 'Renamed', plan: 'pro', status: 'active', limits: { requestsPerMinute: 3000 } });
      expect((await admin.get(`/admin/tenants/${id}`)).body).toMatchObject({ name: 'Renamed', plan: 'pro' });
    });

    it.each([
      ['an unknown plan', { plan: 'gold' }, 400, 'unknown_plan', 'plan'],
      ['an unknown status', { status: 'paused' }, 400, null, 'status'],
      ['a null name', { name: null }, 400, null, 'name'],
      ['an unknown field', { limits: {} }, 400, null, 'limits'],
    ])('should refuse %s with 400 naming the field', async (_case, body, status, code, param) => {
      const id = await aTenant();

      expectOpenAiError(await admin.patch(`/admin/tenants/${id}`, body), status, { code, param });
    });

    it('should answer 404 for an unknown tenant and 400 for a malformed id', async () => {
      expectOpenAiError(await admin.patch('/admin/tenants/nobody', { name: 'x' }), 404, { code: 'tenant_not_found' });
      expectOpenAiError(await admin.patch('/admin/tenants/_bad', { name: 'x' }), 400, { param: 'id' });
    });
  });

  describe('DELETE /admin/tenants/:id', () => {
    it('should disable the tenant, answer 200 with it, and keep it', async () => {
      const id = await aTenant();

      const response = await admin.delete(`/admin/tenants/${id}`);

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id, status: 'disabled' });
      expect((await admin.get(`/admin/tenants/${id}`)).body.status).toBe('disabled');
    });

    it('should stop the keys of a disabled tenant at once, with 401, and start them again when it is re-enabled', async () => {
      const id = await aTenant();
      const { key } = await aKeyOf(id);
      await chatWith(key); // its key is now cached

      await admin.delete(`/admin/tenants/${id}`);
      const refused = await rejectionOf(chatWith(key));
      await admin.patch(`/admin/tenants/${id}`, { status: 'active' });

      expect(refused.status).toBe(401);
      expect(refused.code).toBe('invalid_api_key');
      expect((await chatWith(key)).object).toBe('chat.completion');
    });

    it('should answer 404 for an unknown tenant and 400 for a malformed id', async () => {
      expectOpenAiError(await admin.delete('/admin/tenants/nobody'), 404, { code: 'tenant_not_found' });
      expectOpenAiError(await admin.delete('/admin/tenants/UPPER'), 400, { param: 'id' });
    });
  });

  describe('keys', () => {
    it('should issue a key, shown once, that works at once with the OpenAI SDK', async () => {
      const id = await aTenant();

      const response = await admin.post(`/admin/tenants/${id}/keys`, { name: 'billing-service' });

      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        key: expect.stringMatching(/^tg-[A-Za-z0-9_-]{40}$/),
        prefix: response.body.key.slice(0, 10),
        name: 'billing-service',
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      });
      const completion = await chatWith(response.body.key);
      expect(completion.choices[0].message.content).toEqual(expect.any(String));
    });

    it.each([
      ['without a body', undefined],
      ['with a null name', { name: null }],
    ])('should issue an unnamed key %s', async (_case, body) => {
      const id = await aTenant();

      const response = await admin.post(`/admin/tenants/${id}/keys`, body);

      expect(response.status).toBe(201);
      expect(response.body.name).toBeNull();
    });

    it('should list the keys without ever showing a key', async () => {
      const id = await aTenant();
      const first = await aKeyOf(id);
      const second = await aKeyOf(id);

      const response = await admin.get(`/admin/tenants/${id}/keys`);

      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        object: 'list',
        data: [first, second].map(({ id: keyId, key }) => ({
          id: keyId,
          prefix: key.slice(0, 10),
          name: 'e2e',
          createdAt: expect.any(String),
          revokedAt: null,
        })),
      });
      expect(JSON.stringify(response.body)).not.toContain(first.key);
      expect(JSON.stringify(response.body)).not.toContain(second.key);
    });

    it('should revoke a key with 204: it stops working at once on this replica and is listed as revoked', async () => {
      const id = await aTenant();
      const { id: keyId, key } = await aKeyOf(id);
      await chatWith(key); // the key is now cached

      const response = await admin.delete(`/admin/tenants/${id}/keys/${keyId}`);

      expect(response.status).toBe(204);
      expect(response.body).toBeUndefined();
      const refused = await rejectionOf(chatWith(key));
      expect(refused.status).toBe(401);
      expect(refused.code).toBe('invalid_api_key');
      expect((await admin.get(`/admin/tenants/${id}/keys`)).body.data[0].revokedAt).toEqual(expect.any(String));
    });

    it('should answer 204 to revoking a key twice', async () => {
      const id = await aTenant();
      const { id: keyId } = await aKeyOf(id);
      await admin.delete(`/admin/tenants/${id}/keys/${keyId}`);

      expect((await admin.delete(`/admin/tenants/${id}/keys/${keyId}`)).status).toBe(204);
    });

    it('should not revoke a key through another tenant', async () => {
      const owner = await aTenant();
      const other = await aTenant();
      const { id: keyId, key } = await aKeyOf(owner);

      expectOpenAiError(await admin.delete(`/admin/tenants/${other}/keys/${keyId}`), 404, { code: 'api_key_not_found', param: 'keyId' });
      expect((await chatWith(key)).object).toBe('chat.completion');
    });

    it('should answer 400 naming keyId for a key id that is not a UUID', async () => {
      const id = await aTenant();

      expectOpenAiError(await admin.delete(`/admin/tenants/${id}/keys/not-a-uuid`), 400, { code: null, param: 'keyId' });
    });

    it('should answer 404 api_key_not_found for an unknown key id', async () => {
      const id = await aTenant();

      expectOpenAiError(await admin.delete(`/admin/tenants/${id}/keys/${UNKNOWN_KEY_ID}`), 404, { code: 'api_key_not_found', param: 'keyId' });
    });

    it('should answer 404 tenant_not_found when issuing or listing keys of an unknown tenant', async () => {
      expectOpenAiError(await admin.post('/admin/tenants/nobody/keys', {}), 404, { code: 'tenant_not_found' });
      expectOpenAiError(await admin.get('/admin/tenants/nobody/keys'), 404, { code: 'tenant_not_found' });
    });

    it('should answer 404 when revoking a key of an unknown tenant', async () => {
      // The library looks the key up within the tenant, so it reports the key (api_key_not_found), not the tenant.
      expect((await admin.delete(`/admin/tenants/nobody/keys/${UNKNOWN_KEY_ID}`)).status).toBe(404);
    });

    it('should answer 400 naming id for a malformed tenant id on every key route', async () => {
      expectOpenAiError(await admin.post('/admin/tenants/-bad/keys', {}), 400, { param: 'id' });
      expectOpenAiError(await admin.get('/admin/tenants/-bad/keys'), 400, { param: 'id' });
      expectOpenAiError(await admin.delete(`/admin/tenants/-bad/keys/${UNKNOWN_KEY_ID}`), 400, { param: 'id' });
    });

    it.each([
      ['a name that is not a string', { name: 42 }, 'name'],
      ['a name of 201 characters', { name: 'n'.repeat(201) }, 'name'],
      ['an unknown field', { scopes: ['chat'] }, 'scopes'],
    ])('should refuse %s with 400 naming the field', async (_case, body, param) => {
      const id = await aTenant();

      expectOpenAiError(await admin.post(`/admin/tenants/${id}/keys`, body), 400, { param });
    });
  });

  // Many HTTP client wrappers send `content-type: application/json` on every call, with or without a body.
  describe('calls without a body, sent with a JSON content type', () => {
    const bodyless = (method: string, path: string) =>
      fetch(`${gateway.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' } });

    it('should disable a tenant with DELETE', async () => {
      const id = await aTenant();

      const response = await bodyless('DELETE', `/admin/tenants/${id}`);

      expect(response.status).toBe(200);
      expect((await admin.get(`/admin/tenants/${id}`)).body.status).toBe('disabled');
    });

    it('should revoke a key with DELETE', async () => {
      const id = await aTenant();
      const { id: keyId, key } = await aKeyOf(id);

      const response = await bodyless('DELETE', `/admin/tenants/${id}/keys/${keyId}`);

      expect(response.status).toBeLessThan(300);
      expect((await rejectionOf(chatWith(key))).status).toBe(401);
    });

    it('should issue a key with a POST that takes no body, and refresh the upstream secret', async () => {
      const id = await aTenant();

      expect((await bodyless('POST', `/admin/tenants/${id}/keys`)).status).toBe(201);
      expect((await bodyless('POST', '/admin/upstream/secrets/refresh')).status).toBeLessThan(300);
      expect((await bodyless('GET', `/admin/tenants/${id}/keys`)).status).toBe(200);
    });

    it('should still refuse a POST whose route needs a body, naming the missing field', async () => {
      const response = await bodyless('POST', '/admin/tenants');

      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { param: string } }).error.param).toBe('name');
    });
  });
});
