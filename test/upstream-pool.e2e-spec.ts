import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AlertEvaluator, KeyVerification, UNLIMITED } from '@tollgate/ai';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createGateway } from '../src/create-gateway';
import { Environment } from '../src/app.module';
import { adminClient } from './support/admin-client';
import { CapturedLog } from './support/captured-log';
import { ADMIN_TOKEN, aUserMessage, createTenant, expectNoSecretIn, FAST_POLICIES, rejectionOf, tenantClient } from './support/gateway-harness';

const KEY_A = 'sk-pool-key-a-0123456789';
const KEY_B = 'sk-pool-key-b-0123456789';
const AZURE_KEY = 'azure-pool-key-0123456789';

interface PoolGateway {
  app: NestFastifyApplication;
  url: string;
  client: OpenAI;
  log: CapturedLog;
  close(): Promise<void>;
}

/** The gateway with `config/upstreams.yaml` as given (its keys read from the environment), one tenant without limits. */
async function startPoolGateway(upstreamsYaml: string, env: Environment = {}): Promise<PoolGateway> {
  const configDir = mkdtempSync(join(tmpdir(), 'tollgate-pool-'));
  for (const file of ['models.yaml', 'plans.yaml']) copyFileSync(join('config', file), join(configDir, file));
  writeFileSync(join(configDir, 'upstreams.yaml'), upstreamsYaml);
  const log = new CapturedLog();
  const app = await createGateway(
    {
      NODE_ENV: 'test',
      ADMIN_TOKEN,
      DATABASE_URL: 'sqlite::memory:',
      CONFIG_DIR: configDir,
      POOL_KEY_A: KEY_A,
      POOL_KEY_B: KEY_B,
      POOL_AZURE_KEY: AZURE_KEY,
      ...FAST_POLICIES,
      ...env,
    },
    { log },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.get(KeyVerification).settled();
  const url = await app.getUrl();
  const tenantKey = await createTenant(app, `pool-${Date.now().toString(36)}`, UNLIMITED);
  return {
    app,
    url,
    log,
    client: tenantClient(url, { apiKey: tenantKey }),
    close: async () => {
      await app.close();
      rmSync(configDir, { recursive: true, force: true });
      expectNoSecretIn(log.lines, [KEY_A, KEY_B, AZURE_KEY, tenantKey]);
    },
  };
}

const twoKeys = (simulator: RunningSimulator, expect = '') => `
upstreams:
  - name: openai-main
    kind: openai
    baseUrl: ${simulator.url}
    keys:
      - name: project-a
        secret: { provider: env, name: POOL_KEY_A }${expect}
      - name: project-b
        secret: { provider: env, name: POOL_KEY_B }${expect}
`;

const keyCalls = (simulator: RunningSimulator, label: string) => simulator.calls().filter((call) => call.keyLabel === label);

describe('Upstream pool: two keys of one upstream', () => {
  let simulator: RunningSimulator;
  let gateway: PoolGateway;

  beforeEach(async () => {
    simulator = await startSimulator({ acceptedKeys: [{ key: KEY_A, label: 'A' }, { key: KEY_B, label: 'B' }] });
    gateway = await startPoolGateway(twoKeys(simulator));
  });
  afterEach(async () => {
    await gateway.close();
    await simulator.close();
  });

  it('should serve a call from key B at once when key A answers 429, calling A exactly once', async () => {
    // A wait of 30 s is far past the 4 s deadline: the call only succeeds if it did not sleep.
    simulator.enqueueFaults({ preset: 'rate_limit_exceeded', retryAfter: '30', retryAfterMs: 30_000 });

    const { data, response } = await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }).withResponse();
    await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });

    expect(data.choices[0].message.content).toEqual(expect.any(String));
    expect(response.headers.get('x-tollgate-upstream')).toBe('openai-main');
    expect(keyCalls(simulator, 'A').map((call) => call.status)).toEqual([429]);
    expect(keyCalls(simulator, 'B').map((call) => call.status)).toEqual([200, 200]);
    const { body } = await adminClient(gateway.url).get('/admin/upstream');
    expect(body.keys).toMatchObject([
      { upstream: 'openai-main', key: 'project-a', state: 'resting', fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/) },
      { upstream: 'openai-main', key: 'project-b', state: 'ready' },
    ]);
    expect(JSON.stringify(body)).not.toContain(KEY_A);
  });

  it('should answer 503 with the shortest Retry-After and x-should-retry: false once every key rests', async () => {
    simulator.enqueueFaults({ preset: 'rate_limit_exceeded', retryAfter: '40', retryAfterMs: 40_000 }, { preset: 'rate_limit_exceeded', retryAfter: '30', retryAfterMs: 30_000 });

    const error = await rejectionOf(gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }));
    const again = await rejectionOf(gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }));

    expect(error.status).toBe(503);
    expect(error.code).toBe('upstream_rate_limited');
    expect(error.headers?.get('retry-after')).toBe('30');
    expect(error.headers?.get('x-should-retry')).toBe('false');
    // The next call is refused without reaching the upstream while both keys rest.
    expect(again.status).toBe(503);
    expect(simulator.calls()).toHaveLength(2);
  });

  it('should take a key out on insufficient_quota while the other serves, and open no breaker', async () => {
    simulator.enqueueFaults({ preset: 'insufficient_quota' });

    for (const model of ['gpt-4o-mini', 'gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini']) {
      await gateway.client.chat.completions.create({ model, messages: aUserMessage() });
    }

    expect(keyCalls(simulator, 'A').map((call) => call.status)).toEqual([429]);
    expect(keyCalls(simulator, 'B')).toHaveLength(4);
    const { body } = await adminClient(gateway.url).get('/admin/upstream');
    expect(body.keys[0]).toMatchObject({ key: 'project-a', state: 'out', out: { reason: 'insufficient_quota' } });
    expect(body.breakers.map((breaker: { state: string }) => breaker.state)).toEqual(['closed', 'closed', 'closed']);
  });

  it('should count the SDK clients\' own retries from X-Stainless-Retry-Count', async () => {
    const retried = tenantClient(gateway.url, { apiKey: gateway.client.apiKey, defaultHeaders: { 'x-stainless-retry-count': '1' } });
    await retried.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });

    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();

    expect(metrics).toMatch(/^tollgate_client_retries_total\{tenant="pool-[a-z0-9]+"\} 1$/m);
  });
});

describe('Upstream pool: a spent retry budget', () => {
  it('should answer 503 with x-should-retry: false, so that the SDK does not retry what Tollgate would not', async () => {
    const simulator = await startSimulator({ acceptedKeys: [{ key: KEY_A, label: 'A' }, { key: KEY_B, label: 'B' }] });
    const gateway = await startPoolGateway(twoKeys(simulator), { AI_RETRY_BUDGET_RATIO: '0', AI_RETRY_BUDGET_MIN_PER_SECOND: '0' });
    try {
      simulator.enqueueFaults({ preset: 'server_error' });
      // The SDK's own retries on: it obeys x-should-retry.
      const retrying = tenantClient(gateway.url, { apiKey: gateway.client.apiKey, maxRetries: 2 });

      const error = await rejectionOf(retrying.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }));

      expect(error.status).toBe(503);
      expect(error.headers?.get('x-should-retry')).toBe('false');
      expect(simulator.calls()).toHaveLength(1);
    } finally {
      await gateway.close();
      await simulator.close();
    }
  });
});

describe('Upstream pool: the wrong-key guard', () => {
  let simulator: RunningSimulator;
  let gateway: PoolGateway;
  const expected = '\n        expect: { organization: org-prod, project: proj_prod }';

  beforeEach(async () => {
    simulator = await startSimulator({
      acceptedKeys: [
        { key: KEY_A, label: 'A', organization: 'org-prod', project: 'proj_dev' },
        { key: KEY_B, label: 'B', organization: 'org-prod', project: 'proj_prod' },
      ],
    });
  });
  afterEach(async () => {
    await gateway.close();
    await simulator.close();
  });

  it('should take out a key that answers for the wrong project, and say which in readiness and an alert', async () => {
    gateway = await startPoolGateway(twoKeys(simulator, expected), { ALERT_EVALUATION_INTERVAL_MS: '3600000' });

    for (let i = 0; i < 4; i++) await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    await gateway.app.get(AlertEvaluator).evaluate();

    expect(keyCalls(simulator, 'A')).toHaveLength(1);
    const ready = (await (await fetch(`${gateway.url}/health/ready`)).json()) as { status: string; details: { upstreamKey: { keys: unknown[] } } };
    expect(ready.status).toBe('ok');
    expect(ready.details.upstreamKey.keys).toEqual([
      expect.objectContaining({ upstream: 'openai-main', key: 'project-a', state: 'out', outReason: 'wrong_account', fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/) }),
      expect.objectContaining({ key: 'project-b', state: 'ready' }),
    ]);
    const { body: alerts } = await adminClient(gateway.url).get('/admin/alerts');
    expect(JSON.stringify(alerts)).toContain('project-a');
    expect(JSON.stringify(ready)).not.toContain(KEY_A);
  });

  it('should take the key out at start-up verification, before any tenant call', async () => {
    gateway = await startPoolGateway(twoKeys(simulator, expected), { AI_VERIFY_KEY_ON_START: 'true' });

    await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });

    expect(keyCalls(simulator, 'A').map((call) => call.endpoint)).toEqual(['models.list']);
    const { body } = await adminClient(gateway.url).get('/admin/upstream');
    expect(body.keys[0]).toMatchObject({ key: 'project-a', state: 'out', out: { reason: 'wrong_account' }, verified: 'accepted' });
  });
});

describe('Upstream pool: Azure OpenAI', () => {
  let openai: RunningSimulator;
  let azure: RunningSimulator;
  let gateway: PoolGateway;

  beforeEach(async () => {
    openai = await startSimulator({ acceptedKeys: [{ key: KEY_A, label: 'openai' }] });
    azure = await startSimulator({ acceptedKeys: [{ key: AZURE_KEY, label: 'azure' }] });
  });
  afterEach(async () => {
    await gateway.close();
    await Promise.all([openai.close(), azure.close()]);
  });

  const azureRoot = () => azure.url.replace(/\/v1$/, '');

  it('should fail over to Azure (its v1 API, api-key header) when OpenAI answers 500', async () => {
    gateway = await startPoolGateway(`
upstreams:
  - name: openai-main
    baseUrl: ${openai.url}
    keys: [{ secret: { provider: env, name: POOL_KEY_A } }]
  - name: azure-eastus
    kind: azure
    baseUrl: ${azureRoot()}/openai/v1
    keys: [{ secret: { provider: env, name: POOL_AZURE_KEY } }]
`);
    openai.enqueueFaults({ preset: 'server_error', times: 10 });

    const { response } = await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }).withResponse();

    expect(response.status).toBe(200);
    expect(response.headers.get('x-tollgate-upstream')).toBe('azure-eastus');
    expect(openai.calls().map((call) => call.status)).toEqual([500]);
    expect(azure.calls()).toMatchObject([{ api: 'azure', auth: 'api-key', keyLabel: 'azure', status: 200 }]);
  });

  it("should call a model's deployment with the api-version on Azure's deployments API", async () => {
    gateway = await startPoolGateway(`
upstreams:
  - name: azure-eastus
    kind: azure
    baseUrl: ${azureRoot()}/openai
    apiVersion: 2024-10-21
    deployments: { gpt-4o-mini: my-mini }
    keys: [{ secret: { provider: env, name: POOL_AZURE_KEY } }]
`);

    const completion = await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    const chunks = await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage(), stream: true });
    for await (const chunk of chunks) expect(chunk.object).toBe('chat.completion.chunk');

    expect(completion.choices[0].message.content).toEqual(expect.any(String));
    expect(azure.calls()).toMatchObject([
      { api: 'azure', deployment: 'my-mini', apiVersion: '2024-10-21', auth: 'api-key', status: 200 },
      { api: 'azure', deployment: 'my-mini', apiVersion: '2024-10-21', stream: true, status: 200 },
    ]);
  });

  it("should pass Azure's content_filter 400 to the tenant, not retried and opening no breaker", async () => {
    gateway = await startPoolGateway(`
upstreams:
  - name: azure-eastus
    kind: azure
    baseUrl: ${azureRoot()}/openai/v1
    keys: [{ secret: { provider: env, name: POOL_AZURE_KEY } }]
`);
    azure.enqueueFaults({ preset: 'content_filter' });

    const error = await rejectionOf(gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }));

    expect(error.status).toBe(400);
    expect(error.code).toBe('content_filter');
    expect(azure.calls()).toHaveLength(1);
    const { body } = await adminClient(gateway.url).get('/admin/upstream');
    expect(body.breakers).toMatchObject([{ upstream: 'azure-eastus', state: 'closed', recentFailures: 0 }]);
  });
});

describe('config/upstreams.yaml at start-up', () => {
  it('should refuse to start on a bad file, naming the file and the entry but never a key', async () => {
    const start = startPoolGateway(`
upstreams:
  - name: openai-main
    baseUrl: http://127.0.0.1:9/v1
    keys: [{ secret: { provider: vault, name: POOL_KEY_A } }]
`);

    await expect(start).rejects.toThrow(/upstreams\.yaml: upstreams\[0\] \(openai-main\)\.keys\[0\]\.secret\.provider: expected env, file, aws or azure/);
  });
});
