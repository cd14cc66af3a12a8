import { fingerprintOf } from '@tollgate/ai';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { FakeSecretsManager } from '../libs/ai/test/fakes/fake-secrets-manager';
import { createGateway } from '../src/create-gateway';
import { CapturedLog } from './support/captured-log';
import { adminClient } from './support/admin-client';
import { ADMIN_TOKEN, aUserMessage, createTenant, FAST_POLICIES, tenantClient } from './support/gateway-harness';

const SECRET_ID = 'prod/tollgate/openai';
const FIRST_KEY = 'sk-aws-first-cccccccccccccccccccccc';
const SECOND_KEY = 'sk-aws-second-ddddddddddddddddddddd';

/**
 * The gateway reading its upstream key from AWS Secrets Manager through the real SDK, against a
 * local fake of the service over real HTTP: rotation, an outage while serving, bad secrets at start-up.
 */
describe('Upstream key from AWS Secrets Manager', () => {
  const vault = new FakeSecretsManager();
  const log = new CapturedLog();
  let simulator: RunningSimulator;
  let endpoint: string;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    // The SDK's default credential chain reads these; the fake checks that requests are signed.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    ({ endpoint } = await vault.start());
    simulator = await startSimulator({ acceptedKeys: [FIRST_KEY] });
  });
  afterAll(async () => {
    process.env = savedEnv;
    await vault.close();
    await simulator.close();
  });

  const start = (secretId = SECRET_ID) =>
    createGateway(
      {
        NODE_ENV: 'test',
        OPENAI_BASE_URL: simulator.url,
        ADMIN_TOKEN,
        DATABASE_URL: 'sqlite::memory:',
        ...FAST_POLICIES,
        AI_SECRET_PROVIDER: 'aws',
        AWS_SECRET_ID: secretId,
        AWS_REGION: 'us-east-1',
        AWS_SECRET_JSON_KEY: 'apiKey',
        AWS_SECRETS_MANAGER_ENDPOINT: endpoint,
      },
      { log },
    );

  it('should load the key, pick up a rotation on the next upstream 401, and keep serving through a vault outage', async () => {
    vault.putSecret(SECRET_ID, { apiKey: FIRST_KEY });
    const app = await start();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = await app.getUrl();
    const client = tenantClient(url, { apiKey: await createTenant(app, 'aws-rotation') });
    const chat = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });
    await chat();

    // Rotated in the vault and upstream at once: the next call is refused once, re-reads, and succeeds.
    vault.putSecret(SECRET_ID, { apiKey: SECOND_KEY });
    simulator.setAcceptedKeys([SECOND_KEY]);
    await chat();
    expect(simulator.calls().map((call) => call.authorized)).toEqual([true, false, true]);

    // The vault goes away: a forced refresh fails, the last good key keeps serving, and every report says why.
    vault.fail('access_denied');
    const refresh = await adminClient(url).post('/admin/upstream/secrets/refresh');
    await chat();
    const ready = await (await fetch(`${url}/health/ready`)).json();
    const metrics = await (await fetch(`${url}/metrics`)).text();

    expect(refresh.body).toMatchObject({ outcome: 'failed', fingerprint: fingerprintOf(SECOND_KEY), storeError: { failure: 'access_denied' } });
    expect(simulator.calls().at(-1)?.authorized).toBe(true);
    expect(ready).toMatchObject({ status: 'ok', details: { upstreamKey: { status: 'up', storeFailing: 'access_denied' } } });
    expect(metrics).toMatch(/tollgate_upstream_key_refreshes_total\{outcome="failed"\} 1/);
    expect(metrics).toMatch(/tollgate_upstream_key_refreshes_total\{outcome="rotated"\} 1/);
    vault.fail(undefined);
    await app.close();
  });

  it.each([
    ['not found', 'not_found', /AWS Secrets Manager secret 'prod\/absent' \(key 'apiKey'\): ResourceNotFoundException/],
    ['access denied', 'access_denied', /AWS Secrets Manager secret 'prod\/absent' \(key 'apiKey'\): AccessDeniedException/],
  ] as const)('should refuse to start when the secret is %s, naming the provider and the secret', async (_case, fault, message) => {
    vault.fail(fault);

    await expect(start('prod/absent')).rejects.toThrow(message);
    vault.fail(undefined);
  });

  it('should have written no key to any log line', () => {
    const everything = log.lines.join('\n');

    expect(everything).toContain(`fingerprint ${fingerprintOf(SECOND_KEY)}`);
    expect(everything).not.toContain(FIRST_KEY);
    expect(everything).not.toContain(SECOND_KEY);
  });
});
