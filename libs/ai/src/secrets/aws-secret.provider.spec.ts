import { Logger, LoggerService } from '@nestjs/common';
import { resolveAiOptions } from '../ai-module-options';
import { SystemClock } from '../common/clock';
import { track } from '../../test/async';
import { eventually } from '../../test/async';
import { FakeSecretsManager } from '../../test/fakes/fake-secrets-manager';
import { AwsSecretOptions, AwsSecretProvider } from './aws-secret.provider';
import { SecretUnavailableError } from './secret-provider';
import { UpstreamKeyManager } from './upstream-key-manager';

const SECRET_ID = 'prod/tollgate/openai';
const KEY = 'sk-live-aaaaaaaaaaaaaaaaaaaa';
const ROTATED_KEY = 'sk-live-bbbbbbbbbbbbbbbbbbbb';
// Roomy: a TLS handshake and the challenge round trip must fit even on a loaded CI machine.
const TIMEOUT_MS = 1_000;
/** Only so that a read that never settles fails the test instead of hanging it; the assertion is on the error. */
const HUNG_READ_DEADLINE_MS = 10 * TIMEOUT_MS;

function awsProvider(endpoint: string, overrides: Partial<AwsSecretOptions> = {}): AwsSecretProvider {
  return new AwsSecretProvider({
    secretId: SECRET_ID,
    region: 'us-east-1',
    endpoint,
    timeoutMs: TIMEOUT_MS,
    client: { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
    ...overrides,
  });
}

async function readFailure(provider: AwsSecretProvider): Promise<SecretUnavailableError> {
  const error = await provider.read().then(
    (secret) => new Error(`Expected the read to fail, it returned version ${secret.version}.`),
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(SecretUnavailableError);
  return error as SecretUnavailableError;
}

describe(AwsSecretProvider.name, () => {
  let vault: FakeSecretsManager;
  let endpoint: string;

  beforeEach(async () => {
    vault = new FakeSecretsManager();
    ({ endpoint } = await vault.start());
  });

  afterEach(() => vault.close());

  it('should call GetSecretValue over the AWS JSON 1.1 protocol with the secret id', async () => {
    vault.putSecret(SECRET_ID, KEY);

    await awsProvider(endpoint).read();

    expect(vault.requests).toHaveLength(1);
    const [request] = vault.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/' });
    expect(request.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/secretsmanager\/aws4_request/);
    expect(JSON.parse(request.body)).toEqual({ SecretId: SECRET_ID });
  });

  it('should read a plain string secret, trimmed, with its VersionId as the version', async () => {
    const versionId = vault.putSecret(SECRET_ID, `  ${KEY}\n`);

    await expect(awsProvider(endpoint).read()).resolves.toEqual({ value: KEY, version: versionId });
  });

  it('should read one key of a JSON secret', async () => {
    vault.putSecret(SECRET_ID, { apiKey: KEY, organization: 'org-tollgate' });

    await expect(awsProvider(endpoint, { jsonKey: 'apiKey' }).read()).resolves.toMatchObject({ value: KEY });
  });

  it('should refuse a secret that is not JSON when a key is asked for, without revealing it', async () => {
    vault.putSecret(SECRET_ID, KEY);

    const error = await readFailure(awsProvider(endpoint, { jsonKey: 'apiKey' }));

    expect(error.failure).toBe('empty');
    expect(error.message).toContain(SECRET_ID);
    expect(error.message).not.toContain(KEY);
  });

  it('should pick up a rotation with its new VersionId', async () => {
    const provider = awsProvider(endpoint);
    const first = vault.putSecret(SECRET_ID, KEY);
    await expect(provider.read()).resolves.toEqual({ value: KEY, version: first });

    const second = vault.putSecret(SECRET_ID, ROTATED_KEY);

    expect(second).not.toBe(first);
    await expect(provider.read()).resolves.toEqual({ value: ROTATED_KEY, version: second });
  });

  it('should report a secret that does not exist as not_found, naming it', async () => {
    const error = await readFailure(awsProvider(endpoint));

    expect(error.failure).toBe('not_found');
    expect(error.message).toContain(`'${SECRET_ID}'`);
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it.each([
    ['access_denied', 'AccessDeniedException'],
    ['throttled', 'ThrottlingException'],
  ] as const)('should report %s, naming the secret but never its value', async (fault, errorType) => {
    vault.putSecret(SECRET_ID, KEY);
    vault.fail(fault);

    const error = await readFailure(awsProvider(endpoint));

    expect(error.failure).toBe(fault);
    expect(error.message).toContain(`'${SECRET_ID}'`);
    expect(error.message).toContain(errorType);
    expect(error.message).not.toContain(KEY);
  });

  // @smithy/node-http-handler only warns on requestTimeout unless told to throw: a silent vault must still end the read.
  it('should give up on a vault that never answers with a timeout', async () => {
    vault.putSecret(SECRET_ID, KEY);
    vault.fail('hang');

    const read = track(awsProvider(endpoint).read());
    await eventually(() => expect(read.settled).toBe(true), HUNG_READ_DEADLINE_MS);

    expect(read.error).toBeInstanceOf(SecretUnavailableError);
    expect(read.error).toMatchObject({ failure: 'timeout', message: expect.stringContaining(`'${SECRET_ID}'`) });
    await eventually(() => expect(vault.abandoned).toBeGreaterThanOrEqual(1));
  });
});

describe(`${UpstreamKeyManager.name} with ${AwsSecretProvider.name}`, () => {
  const logged: string[] = [];
  const recorder: LoggerService = {
    log: (message: unknown) => logged.push(String(message)),
    warn: (message: unknown) => logged.push(String(message)),
    error: (message: unknown) => logged.push(String(message)),
  };
  let vault: FakeSecretsManager;
  let endpoint: string;
  let firstVersion: string;
  let keys: UpstreamKeyManager;

  function keyManager(overrides: Partial<AwsSecretOptions> = {}): UpstreamKeyManager {
    return new UpstreamKeyManager(awsProvider(endpoint, overrides), new SystemClock(), resolveAiOptions({ upstream: { apiKey: 'unused' } }).secrets);
  }

  // Jest gives each spec file its own modules, so this ends with the file (and catches logs of reads still in flight).
  beforeAll(() => Logger.overrideLogger(recorder));

  beforeEach(async () => {
    logged.length = 0;
    vault = new FakeSecretsManager();
    ({ endpoint } = await vault.start());
    firstVersion = vault.putSecret(SECRET_ID, KEY);
    keys = keyManager();
  });

  afterEach(async () => {
    keys.onApplicationShutdown();
    await vault.close();
  });

  it('should pick up a rotation on refresh, logging versions and fingerprints but never a key', async () => {
    await keys.load();
    const secondVersion = vault.putSecret(SECRET_ID, ROTATED_KEY);

    await expect(keys.refresh()).resolves.toBe('rotated');

    expect(keys.current()).toBe(ROTATED_KEY);
    expect(keys.status()).toMatchObject({ version: secondVersion, previous: { version: firstVersion } });
    expect(logged.join('\n')).toContain(secondVersion);
    expect(logged.join('\n')).not.toMatch(new RegExp(`${KEY}|${ROTATED_KEY}`));
  });

  it('should read the vault once for 20 concurrent refreshes', async () => {
    await keys.load();
    const readsBefore = vault.reads;
    vault.putSecret(SECRET_ID, ROTATED_KEY);

    const outcomes = await Promise.all(Array.from({ length: 20 }, () => keys.refresh()));

    expect(vault.reads - readsBefore).toBe(1);
    expect(new Set(outcomes)).toEqual(new Set(['rotated']));
    expect(keys.current()).toBe(ROTATED_KEY);
  });

  it('should keep the last good key through a vault outage and say why', async () => {
    await keys.load();
    vault.fail('access_denied');

    await expect(keys.refresh()).resolves.toBe('failed');

    expect(keys.current()).toBe(KEY);
    const { lastError } = keys.status();
    expect(lastError?.failure).toBe('access_denied');
    expect(lastError?.message).toContain(`'${SECRET_ID}'`);
    expect(lastError?.message).not.toContain(KEY);

    vault.fail(undefined);
    await expect(keys.refresh()).resolves.toBe('unchanged');
    expect(keys.status().lastError).toBeUndefined();
  });

  it('should fail to load a missing secret with a message naming it', async () => {
    keys = keyManager({ secretId: 'prod/tollgate/missing' });

    await expect(keys.load()).rejects.toThrow(/'prod\/tollgate\/missing'.*ResourceNotFoundException/);
  });

  // A hung read must settle, or the shared refresh would hold every later one (timer, 401) forever.
  it('should keep the last good key and report a timeout when the vault hangs', async () => {
    await keys.load();
    vault.fail('hang');

    const refresh = track(keys.refresh());
    await eventually(() => expect(refresh.settled).toBe(true), HUNG_READ_DEADLINE_MS);

    expect(refresh.value).toBe('failed');
    expect(keys.current()).toBe(KEY);
    expect(keys.status().lastError?.failure).toBe('timeout');
  });
});
