import type { TokenCredential } from '@azure/core-auth';
import { track } from '../../test/async';
import { eventually } from '../../test/async';
import { FakeKeyVault } from '../../test/fakes/fake-key-vault';
import { AzureSecretOptions, AzureSecretProvider } from './azure-secret.provider';
import { SecretUnavailableError } from './secret-provider';

const SECRET_NAME = 'tollgate-openai';
const KEY = 'sk-live-aaaaaaaaaaaaaaaaaaaa';
const ROTATED_KEY = 'sk-live-bbbbbbbbbbbbbbbbbbbb';
// Roomy: a TLS handshake and the challenge round trip must fit even on a loaded CI machine.
const TIMEOUT_MS = 1_000;
/** Only so that a read that never settles fails the test instead of hanging it; the assertion is on the error. */
const HUNG_READ_DEADLINE_MS = 10 * TIMEOUT_MS;

describe(AzureSecretProvider.name, () => {
  let vault: FakeKeyVault;
  let vaultUrl: string;
  let ca: string;
  let getToken: jest.MockedFunction<TokenCredential['getToken']>;

  function azureProvider(overrides: Partial<AzureSecretOptions> = {}): AzureSecretProvider {
    return new AzureSecretProvider({
      vaultUrl,
      secretName: SECRET_NAME,
      timeoutMs: TIMEOUT_MS,
      credential: { getToken },
      client: { disableChallengeResourceVerification: true, tlsOptions: { ca } },
      ...overrides,
    });
  }

  async function readFailure(provider: AzureSecretProvider): Promise<SecretUnavailableError> {
    const error = await provider.read().then(
      (secret) => new Error(`Expected the read to fail, it returned version ${secret.version}.`),
      (error: unknown) => error,
    );
    expect(error).toBeInstanceOf(SecretUnavailableError);
    return error as SecretUnavailableError;
  }

  beforeEach(async () => {
    vault = new FakeKeyVault();
    ({ vaultUrl, ca } = await vault.start());
    getToken = jest.fn<ReturnType<TokenCredential['getToken']>, Parameters<TokenCredential['getToken']>>(async () => ({
      token: 'fake-token',
      expiresOnTimestamp: Date.now() + 3_600_000,
    }));
  });

  afterEach(() => vault.close());

  it("should answer the vault's challenge with a token for the resource it names, then read the secret", async () => {
    vault.setSecret(SECRET_NAME, KEY);

    await expect(azureProvider().read()).resolves.toMatchObject({ value: KEY });

    expect(vault.requests.map((request) => request.headers.authorization)).toEqual([undefined, 'Bearer fake-token']);
    expect(vault.requests[1].url).toMatch(new RegExp(`^/secrets/${SECRET_NAME}/?\\?api%2Dversion=`));
    expect(getToken).toHaveBeenCalledWith(['https://vault.azure.net/.default'], expect.objectContaining({ tenantId: '00000000-0000-0000-0000-000000000000' }));
    expect(vault.reads).toBe(1);
  });

  it('should refuse a vault whose certificate it does not trust', async () => {
    vault.setSecret(SECRET_NAME, KEY);

    const error = await readFailure(azureProvider({ client: { disableChallengeResourceVerification: true } }));

    expect(error.failure).toBe('unreachable');
    expect(error.message).toMatch(/certificate/);
    expect(vault.requests).toHaveLength(0);
  });

  it("should read the value, trimmed, with the last segment of the secret's id as the version", async () => {
    const version = vault.setSecret(SECRET_NAME, ` ${KEY}\n`);

    await expect(azureProvider().read()).resolves.toEqual({ value: KEY, version });
  });

  it('should pick up a rotation with its new version', async () => {
    const provider = azureProvider();
    const first = vault.setSecret(SECRET_NAME, KEY);
    await expect(provider.read()).resolves.toEqual({ value: KEY, version: first });

    const second = vault.setSecret(SECRET_NAME, ROTATED_KEY);

    expect(second).not.toBe(first);
    await expect(provider.read()).resolves.toEqual({ value: ROTATED_KEY, version: second });
  });

  it('should report a secret that does not exist as not_found, naming the vault and the secret', async () => {
    const error = await readFailure(azureProvider());

    expect(error.failure).toBe('not_found');
    expect(error.message).toContain(vaultUrl);
    expect(error.message).toContain(`'${SECRET_NAME}'`);
    expect(error.message).toContain('404');
  });

  it('should report an empty secret as empty', async () => {
    vault.setSecret(SECRET_NAME, '  \n');

    await expect(readFailure(azureProvider())).resolves.toMatchObject({ failure: 'empty' });
  });

  it.each([
    ['access_denied', 403],
    ['throttled', 429],
  ] as const)('should report %s, naming the vault and the secret but never the value', async (fault, status) => {
    vault.setSecret(SECRET_NAME, KEY);
    vault.fail(fault);

    const error = await readFailure(azureProvider());

    expect(error.failure).toBe(fault);
    expect(error.message).toContain(vaultUrl);
    expect(error.message).toContain(`'${SECRET_NAME}'`);
    expect(error.message).toContain(String(status));
    expect(error.message).not.toContain(KEY);
  });

  // Key Vault ends the lines of its messages with '\r\n': no '\r' may be left in the message or the log line.
  it("should keep one clean line of Key Vault's multi-line error message", async () => {
    vault.fail('access_denied');

    const error = await readFailure(azureProvider());

    expect(error.message).toMatch(/Caller is not authorized to perform action on resource\.$/);
  });

  it('should give up on a vault that never answers with a timeout', async () => {
    vault.setSecret(SECRET_NAME, KEY);
    vault.fail('hang');

    const read = track(azureProvider().read());
    await eventually(() => expect(read.settled).toBe(true), HUNG_READ_DEADLINE_MS);

    expect(read.error).toBeInstanceOf(SecretUnavailableError);
    expect(read.error).toMatchObject({ failure: 'timeout', message: expect.stringContaining(`'${SECRET_NAME}'`) });
    await eventually(() => expect(vault.abandoned).toBe(1));
  });
});
