import 'reflect-metadata';
import { validateEnvironment } from '../src/config/environment';
import { ADMIN_TOKEN, GatewayUnderTest, startGatewayWithSimulator, UPSTREAM_KEY } from './support/gateway-harness';

const METRICS_TOKEN = 'e2e-metrics-token-0123456789';

/** /metrics names every tenant with its tokens and cost: in production only Prometheus, with its token, reads it. */
describe('GET /metrics in production', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ NODE_ENV: 'production', METRICS_TOKEN });
  });
  afterAll(() => gateway.close());

  const scrape = (headers: Record<string, string> = {}) => fetch(`${gateway.url}/metrics`, { headers });

  it('should refuse a scrape without credentials with a 401 in OpenAI\'s error shape, and show no metric', async () => {
    const response = await scrape();
    const text = await response.text();

    expect(response.status).toBe(401);
    expect(JSON.parse(text)).toEqual({
      error: {
        message: "You didn't provide the metrics token. Send the gateway's METRICS_TOKEN as 'Authorization: Bearer <metrics token>'.",
        type: 'invalid_request_error',
        code: 'invalid_api_key',
        param: null,
      },
    });
    expect(text).not.toContain('tollgate_');
  });

  it.each([
    ['a wrong token', 'e2e-metrics-token-0123456780'],
    ['the admin token', ADMIN_TOKEN],
    ['a tenant key', 'tenant'],
  ])('should refuse %s with the same 401', async (_what, token) => {
    const response = await scrape({ authorization: `Bearer ${token === 'tenant' ? gateway.tenantKey : token}` });

    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: { message: "Incorrect metrics token provided. /metrics takes the gateway's METRICS_TOKEN only.", code: 'invalid_api_key' },
    });
  });

  it('should serve the metrics to the bearer of the metrics token', async () => {
    const response = await scrape({ authorization: `Bearer ${METRICS_TOKEN}` });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    expect(await response.text()).toContain('tollgate_requests_total');
  });
});

describe('METRICS_TOKEN at start-up', () => {
  const production = { NODE_ENV: 'production', OPENAI_API_KEY: UPSTREAM_KEY, ADMIN_TOKEN };

  it('should refuse to start in production without a metrics token, naming the variable', () => {
    expect(() => validateEnvironment(production)).toThrow(/METRICS_TOKEN is required in production/);
  });

  it('should refuse a metrics token shorter than 16 characters, never printing it', () => {
    const attempt = () => validateEnvironment({ ...production, METRICS_TOKEN: 'short-token' });

    expect(attempt).toThrow(/METRICS_TOKEN must be at least 16 characters long/);
    expect(attempt).not.toThrow(/short-token/);
  });

  it('should leave /metrics open outside production when no token is set', () => {
    expect(validateEnvironment({ NODE_ENV: 'development' }).METRICS_TOKEN).toBeUndefined();
  });
});
