import { Governance } from '@tollgate/ai/tenancy';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Locator, Page } from 'playwright-core';
import { loadGatewayConfig } from '../src/config/gateway-config';
import { CONSOLE_BUILD, CONSOLE_CONTENT_SECURITY_POLICY } from '../src/console/serve-console';
import { adminClient, expectOpenAiError } from './support/admin-client';
import { ADMIN_TOKEN, aUserMessage, eventually, expectNoSecretIn, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient, UPSTREAM_KEY } from './support/gateway-harness';

const CHROMIUM = '/usr/bin/chromium';
const MISSING_CHROMIUM = `Chromium is not installed at ${CHROMIUM}: Debian's chromium package provides it (apt-get install --no-install-recommends chromium).`;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync'];
/** Screenshots of every page, kept as the suite's artefacts (gitignored). */
const ARTIFACTS = join(__dirname, '..', 'test-artifacts', 'console');
const TENANT_ID = 'console-acme';

// Each browser step may wait up to Playwright's 10 s for the page: more than jest's 5 s for a whole test.
jest.setTimeout(30_000);

/**
 * Like the integration suites' services: without Chromium the suite is skipped, with a printed reason, on a
 * developer's machine, but fails in CI, where a pipeline must not pass by testing nothing.
 */
function describeWithChromium(name: string, body: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('should find Chromium', () => {
        throw new Error(MISSING_CHROMIUM);
      });
    });
  } else {
    console.warn(`Skipping "${name}": ${MISSING_CHROMIUM}`);
    describe.skip(name, body);
  }
}

/** The admin console in a real headless Chromium, against the gateway over real HTTP and its simulated upstream. */
describeWithChromium('Admin console', () => {
  let gateway: GatewayUnderTest;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** The tenant key the console showed once, read from the page. */
  let issuedKey: string;
  const pageErrors: string[] = [];
  const policyViolations: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(CONSOLE_BUILD, 'index.html'))) throw new Error('The console is not built: run `npm run build:console` (npm test does) before this suite.');
    mkdirSync(ARTIFACTS, { recursive: true });
    // Alerts evaluated often, so that a quota alert shows up within the test.
    gateway = await startGatewayWithSimulator({ ALERT_EVALUATION_INTERVAL_MS: '100' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && message.text().includes('Content Security Policy')) policyViolations.push(message.text());
    });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    if (gateway) expectNoSecretIn(gateway.log.lines, issuedKey ? [issuedKey] : []);
    await gateway?.close();
  }, 30_000);

  const nav = (name: string) => page.getByRole('navigation', { name: 'Pages' }).getByRole('button', { name, exact: true });
  const heading = (name: string) => page.getByRole('heading', { level: 1, name, exact: true });
  const screenshot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const rowOf = (table: Locator, text: string) => table.getByRole('row').filter({ hasText: text });

  async function signIn(token: string): Promise<void> {
    await page.getByLabel('Admin token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('should serve the console under its content security policy, asking for the admin token', async () => {
    const response = await page.goto(`${gateway.url}/console`);

    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toBe(CONSOLE_CONTENT_SECURITY_POLICY);
    await page.getByLabel('Admin token').waitFor();
  });

  it('should refuse a wrong token with a clear sign-in error', async () => {
    await signIn('not-the-admin-token-0123456789');

    const error = page.getByRole('alert');
    await error.waitFor();
    expect(await error.textContent()).toContain('Sign-in failed: Incorrect admin token provided.');
    expect(await page.getByLabel('Admin token').isVisible()).toBe(true);
    await screenshot('sign-in');
  });

  it('should sign in with the admin token and keep it in memory only: not in the URL, cookies or web storage', async () => {
    await signIn(ADMIN_TOKEN);
    await heading('Tenants').waitFor();

    expect(page.url()).toBe(`${gateway.url}/console`);
    expect(await context.cookies()).toEqual([]);
    expect((await context.storageState()).origins).toEqual([]);
    expect(await page.evaluate('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } })')).toBe('{"local":{},"session":{}}');

    // Held in the tab's memory, so a reload asks again.
    await page.reload();
    await page.getByLabel('Admin token').waitFor();
    await signIn(ADMIN_TOKEN);
    await heading('Tenants').waitFor();
  });

  it('should create a tenant', async () => {
    const form = page.getByRole('form', { name: 'New tenant' });
    await form.getByLabel('Tenant id').fill(TENANT_ID);
    await form.getByLabel('Name', { exact: true }).fill('Acme Corp');
    await form.getByRole('button', { name: 'Create tenant' }).click();

    const row = rowOf(page.getByRole('table', { name: 'Tenants' }), TENANT_ID);
    await row.waitFor();
    expect(await row.textContent()).toContain('Acme Corp');
    expect((await adminClient(gateway.url).get(`/admin/tenants/${TENANT_ID}`)).body).toMatchObject({ name: 'Acme Corp', plan: 'default', status: 'active' });
    await screenshot('tenants');
  });

  it("should change the tenant's limits through PUT /quota", async () => {
    await rowOf(page.getByRole('table', { name: 'Tenants' }), TENANT_ID).getByRole('button', { name: 'Plan and limits' }).click();
    const settings = page.getByRole('region', { name: `Plan and limits of ${TENANT_ID}` });
    await settings.getByLabel('Requests per UTC day override').fill('1');
    await settings.getByRole('button', { name: 'Save limits' }).click();

    await settings.getByRole('status').filter({ hasText: 'Limits saved.' }).waitFor();
    const { body } = await adminClient(gateway.url).get(`/admin/tenants/${TENANT_ID}`);
    expect(body.overrides).toEqual({ requestsPerDay: 1 });
    // The limit in force, as the tenant reloaded after the save has it.
    await rowOf(settings.getByRole('table', { name: 'Limits' }), 'Requests per UTC day').locator('td').first().filter({ hasText: /^1$/ }).waitFor();
    await screenshot('tenant-limits');
  });

  it("should change a tenant's plan, disable it and enable it again", async () => {
    const admin = adminClient(gateway.url);
    expect((await admin.post('/admin/tenants', { id: 'console-other', name: 'Other' })).status).toBe(201);
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = rowOf(page.getByRole('table', { name: 'Tenants' }), 'console-other');
    await row.getByRole('button', { name: 'Plan and limits' }).click();
    const settings = page.getByRole('region', { name: 'Plan and limits of console-other' });
    await settings.getByLabel('Plan', { exact: true }).fill('pro');
    await settings.getByRole('button', { name: 'Save plan' }).click();
    await settings.getByRole('status').filter({ hasText: 'Plan saved.' }).waitFor();
    expect((await admin.get('/admin/tenants/console-other')).body.plan).toBe('pro');

    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('disabled', { exact: true }).waitFor();
    expect((await admin.get('/admin/tenants/console-other')).body.status).toBe('disabled');

    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByText('active', { exact: true }).waitFor();
    expect((await admin.get('/admin/tenants/console-other')).body.status).toBe('active');
    await settings.getByRole('button', { name: 'Close' }).click();
  });

  it('should issue a key, shown once with a copy button, that works on /v1', async () => {
    await rowOf(page.getByRole('table', { name: 'Tenants' }), TENANT_ID).getByRole('button', { name: 'Keys' }).click();
    await heading('Keys').waitFor();
    await page.getByLabel('Key name').fill('billing-service');
    await page.getByRole('button', { name: 'Issue key' }).click();

    const shown = page.getByLabel('New API key');
    issuedKey = (await shown.textContent()) ?? '';
    expect(issuedKey).toMatch(/^tg-/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(issuedKey);

    const completion = await tenantClient(gateway.url, { apiKey: issuedKey }).chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    expect(completion.choices[0].message.content).toBeTruthy();

    // Once dismissed, the key is gone from the page: the list shows its prefix only.
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await shown.waitFor({ state: 'detached' });
    const keyRow = rowOf(page.getByRole('table', { name: 'Keys' }), 'billing-service');
    expect(await keyRow.textContent()).toContain(issuedKey.slice(0, 8));
    expect(await page.content()).not.toContain(issuedKey);
    await screenshot('keys');
  });

  it('should show the call in the usage chart and tables, by day and by model, with the quota left', async () => {
    await gateway.app.get(Governance).drain();
    await nav('Usage').click();
    await heading('Usage').waitFor();

    const today = new Date().toISOString().slice(0, 10);
    const byDay = page.getByRole('region', { name: 'Usage by day' });
    const byModel = page.getByRole('region', { name: 'Usage by model' });
    await rowOf(byDay, today).waitFor();
    expect(await cellsOf(rowOf(byDay, today))).toEqual([today, '1', expect.stringMatching(/^[1-9]/), expect.stringMatching(/^[1-9]/), expect.stringMatching(/^\$0\.0/), '0']);
    expect(await cellsOf(rowOf(byModel, 'gpt-4o-mini'))).toEqual(['gpt-4o-mini', '1', expect.any(String), expect.any(String), expect.any(String), '0']);
    expect(await byDay.getByRole('img', { name: 'Tokens by day' }).isVisible()).toBe(true);
    expect(await byModel.getByRole('img', { name: 'Tokens by model' }).isVisible()).toBe(true);
    const quota = page.getByRole('region', { name: 'Quota' });
    expect((await cellsOf(rowOf(quota, 'Requests today'))).slice(0, 4)).toEqual(['Requests today', '1', '1', '0']);
    await screenshot('usage');
  });

  it('should show breakers and upstream keys by fingerprint, never the secret', async () => {
    await nav('Upstream').click();
    await heading('Upstream').waitFor();

    const breaker = rowOf(page.getByRole('region', { name: 'Breakers' }), 'gpt-4o-mini');
    await breaker.waitFor();
    expect(await breaker.textContent()).toContain('closed');
    const fingerprint = createHash('sha256').update(UPSTREAM_KEY).digest('hex').slice(0, 12);
    expect(await page.getByRole('region', { name: 'Upstream keys' }).textContent()).toContain(fingerprint);
    expect(await page.content()).not.toContain(UPSTREAM_KEY);
    await screenshot('upstream');
  });

  it('should list the active alerts', async () => {
    // The tenant has used its one request of the day: the quota alerts hold at the next evaluation.
    await eventually(async () => {
      const { body } = await adminClient(gateway.url).get('/admin/alerts');
      expect(body.data.map((alert: { name: string }) => alert.name)).toContain('TollgateTenantQuotaExhausted');
    });
    await nav('Alerts').click();

    const alert = rowOf(page.getByRole('table', { name: 'Active alerts' }), 'TollgateTenantQuotaExhausted');
    await alert.waitFor();
    expect(await alert.textContent()).toContain(`tenant=${TENANT_ID}`);
    expect(await alert.textContent()).toContain('critical');
    await screenshot('alerts');
  });

  it('should revoke the key, which then gets a 401 from /v1', async () => {
    await nav('Keys').click();
    const keyRow = rowOf(page.getByRole('table', { name: 'Keys' }), 'billing-service');
    await keyRow.getByRole('button', { name: 'Revoke', exact: true }).click();
    await keyRow.getByRole('button', { name: 'Confirm revoke' }).click();

    await keyRow.getByText(/^revoked /).waitFor();
    const error = await rejectionOf(tenantClient(gateway.url, { apiKey: issuedKey }).chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }));
    expect(error.status).toBe(401);
    expect(error.code).toBe('invalid_api_key');
    await screenshot('keys-revoked');
  });

  it('should have run without a script error or a content security policy violation', () => {
    expect(pageErrors).toEqual([]);
    expect(policyViolations).toEqual([]);
  });
});

async function cellsOf(row: Locator): Promise<string[]> {
  return (await row.locator('th, td').allTextContents()).map((text) => text.trim());
}

describe('Admin console with CONSOLE_ENABLED=false', () => {
  let gateway: GatewayUnderTest;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ CONSOLE_ENABLED: 'false' });
  });
  afterAll(() => gateway.close());

  it.each(['/console', '/console/', '/console/index.html'])('should answer %s with a 404 like any unknown route', async (path) => {
    expectOpenAiError(await adminClient(gateway.url).get(path), 404, { code: null });
  });
});

describe('CONSOLE_ENABLED', () => {
  const PRODUCTION = { NODE_ENV: 'production', OPENAI_API_KEY: 'sk-production-0123456789', ADMIN_TOKEN: 'admin-token-0123456789', METRICS_TOKEN: 'metrics-token-0123456789' };

  it.each([
    ['on by default outside production', { NODE_ENV: 'development' }, true],
    ['off by default in production', PRODUCTION, false],
    ['turned on in production', { ...PRODUCTION, CONSOLE_ENABLED: 'true' }, true],
    ['turned off outside production', { NODE_ENV: 'test', CONSOLE_ENABLED: 'false' }, false],
  ])('should be %s', (_case, env, enabled) => {
    expect(loadGatewayConfig(env).consoleEnabled).toBe(enabled);
  });

  it('should refuse a value other than true or false, naming the variable', () => {
    expect(() => loadGatewayConfig({ CONSOLE_ENABLED: 'yes' })).toThrow('CONSOLE_ENABLED must be true or false');
  });
});
