import { createHash } from 'node:crypto';
import { adminClient, AdminResponse, expectOpenAiError } from './support/admin-client';
import { ADMIN_TOKEN, aUserMessage, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient, UPSTREAM_KEY } from './support/gateway-harness';

const KEY_ID = '00000000-0000-4000-8000-000000000000';

/** One route of each family of the admin API. */
const ADMIN_ROUTES: Array<[method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: string, body?: unknown]> = [
  ['post', '/admin/tenants', { id: 'intruder', name: 'Intruder' }],
  ['get', '/admin/tenants'],
  ['get', '/admin/tenants/guarded'],
  ['patch', '/admin/tenants/guarded', { status: 'disabled' }],
  ['delete', '/admin/tenants/guarded'],
  ['post', '/admin/tenants/guarded/keys', {}],
  ['get', '/admin/tenants/guarded/keys'],
  ['delete', `/admin/tenants/guarded/keys/${KEY_ID}`],
  ['get', '/admin/tenants/guarded/quota'],
  ['put', '/admin/tenants/guarded/quota', { requestsPerDay: 0 }],
  ['get', '/admin/tenants/guarded/usage'],
  ['get', '/admin/upstream'],
  ['post', '/admin/upstream/secrets/refresh'],
];

/** Who may call the admin API, what it says about the upstream, and its OpenAPI document. */
describe('Admin API: authorization, upstream and OpenAPI', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
    expect((await adminClient(gateway.url).post('/admin/tenants', { id: 'guarded', name: 'Guarded' })).status).toBe(201);
  });
  afterAll(() => gateway.close());

  const call = (token: string | null, [method, path, body]: (typeof ADMIN_ROUTES)[number]): Promise<AdminResponse> =>
    method === 'get' || method === 'delete' ? adminClient(gateway.url, token)[method](path) : adminClient(gateway.url, token)[method](path, body);

  describe('authorization', () => {
    const callers: Array<[string, () => string | null]> = [
      ['no token', () => null],
      ['a tenant’s key', () => gateway.tenantKey],
      ['a wrong admin token', () => `${ADMIN_TOKEN}x`],
      ['a wrong admin token of the same length', () => ADMIN_TOKEN.replace(/.$/, '_')],
      ['an empty bearer', () => ''],
    ];

    it.each(callers)('should answer 401 invalid_api_key to %s on every route family, and change nothing', async (_caller, token) => {
      for (const route of ADMIN_ROUTES) {
        const response = await call(token(), route);

        expect({ route: route.slice(0, 2), status: response.status }).toEqual({ route: route.slice(0, 2), status: 401 });
        expectOpenAiError(response, 401, { code: 'invalid_api_key', param: null });
      }
      const tenants = await adminClient(gateway.url).get('/admin/tenants');
      expect(tenants.body.data.map((tenant: { id: string }) => tenant.id)).not.toContain('intruder');
      expect((await adminClient(gateway.url).get('/admin/tenants/guarded')).body.status).toBe('active');
    });

    it('should not say why a token was refused, nor echo it', async () => {
      const wrong = await adminClient(gateway.url, 'a-guess-0123456789').get('/admin/tenants');
      const tenantKey = await adminClient(gateway.url, gateway.tenantKey).get('/admin/tenants');

      expect(tenantKey.body).toEqual(wrong.body);
      expect(JSON.stringify(wrong.body)).not.toContain('a-guess');
    });

    it('should refuse the admin token on /v1 with 401, as it is not a tenant key', async () => {
      const client = tenantClient(gateway.url, { apiKey: ADMIN_TOKEN });

      const chat = await rejectionOf(client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }));
      const models = await rejectionOf(client.models.list());

      expect([chat.status, chat.code]).toEqual([401, 'invalid_api_key']);
      expect([models.status, models.code]).toEqual([401, 'invalid_api_key']);
    });
  });

  describe('upstream', () => {
    const fingerprint = createHash('sha256').update(UPSTREAM_KEY).digest('hex').slice(0, 12);

    it('should show the breakers of the models called and the fingerprint of the upstream key, never the key', async () => {
      await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });

      const response = await adminClient(gateway.url).get('/admin/upstream');

      expect(response.status).toBe(200);
      // Without config/upstreams.yaml: one upstream, `openai`, with one key.
      const key = {
        upstream: 'openai',
        key: 'key-1',
        weight: 1,
        state: 'ready',
        inFlight: 0,
        provider: 'env',
        fingerprint,
        version: fingerprint,
        source: 'OPENAI_API_KEY (AI_SECRET_PROVIDER=env)',
        verified: 'unverified',
      };
      expect(response.body).toEqual({
        breakers: [{ upstream: 'openai', model: 'gpt-4o-mini', state: 'closed', recentCalls: 1, recentFailures: 0 }],
        secret: key,
        keys: [key],
      });
      expect(JSON.stringify(response.body)).not.toContain(UPSTREAM_KEY);
    });

    it('should answer a secret refresh with 200 and the secret in use', async () => {
      const response = await adminClient(gateway.url).post('/admin/upstream/secrets/refresh');

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ provider: 'env', fingerprint, outcome: 'unchanged' });
    });
  });

  describe('OpenAPI', () => {
    it('should serve the Swagger UI at /docs, with its assets', async () => {
      const page = await fetch(`${gateway.url}/docs`);
      const css = await fetch(`${gateway.url}/docs/swagger-ui.css`);

      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('swagger-ui');
      expect(css.status).toBe(200);
      expect(await css.text()).toContain('.swagger-ui');
    });

    it('should serve the document at /docs-json, with every admin route behind the admin scheme', async () => {
      const response = await fetch(`${gateway.url}/docs-json`);
      const document = (await response.json()) as {
        info: { title: string };
        paths: Record<string, Record<string, { security?: unknown }>>;
        components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      };

      expect(response.status).toBe(200);
      expect(document.info.title).toBe('Tollgate');
      expect(document.components.securitySchemes).toEqual({
        admin: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
        tenant: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
        metrics: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      });
      const adminOperations = Object.entries(document.paths)
        .filter(([path]) => path.startsWith('/admin'))
        .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
      expect(adminOperations.sort()).toEqual(
        [
          'POST /admin/tenants',
          'GET /admin/tenants',
          'GET /admin/tenants/{id}',
          'PATCH /admin/tenants/{id}',
          'DELETE /admin/tenants/{id}',
          'POST /admin/tenants/{id}/keys',
          'GET /admin/tenants/{id}/keys',
          'DELETE /admin/tenants/{id}/keys/{keyId}',
          'GET /admin/tenants/{id}/quota',
          'PUT /admin/tenants/{id}/quota',
          'GET /admin/tenants/{id}/usage',
          'GET /admin/upstream',
          'POST /admin/upstream/secrets/refresh',
          'GET /admin/alerts',
        ].sort(),
      );
      for (const [path, operations] of Object.entries(document.paths).filter(([p]) => p.startsWith('/admin'))) {
        for (const operation of Object.values(operations)) expect({ path, security: operation.security }).toEqual({ path, security: [{ admin: [] }] });
      }
    });
  });
});
