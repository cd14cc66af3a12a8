import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type * as SmithyHttp from '@smithy/node-http-handler';
import { requireOptional } from '../common/optional-package';
import { SecretFailure, SecretProvider, SecretUnavailableError, SecretVersion } from './secret-provider';

/** The AWS SDK is an optional peer dependency, loaded by the first provider. */
const SDK_PACKAGES = '@aws-sdk/client-secrets-manager @smithy/node-http-handler';
const loadSdk = () => requireOptional<typeof SecretsManager>('@aws-sdk/client-secrets-manager', 'AwsSecretProvider', SDK_PACKAGES);

export interface AwsSecretOptions {
  /** The secret's name or ARN. */
  secretId: string;
  region: string;
  /** The key to read when the secret is a JSON object, e.g. `apiKey`. @default the whole secret string */
  jsonKey?: string;
  /** Another Secrets Manager endpoint (a VPC endpoint, a local emulator). @default AWS's */
  endpoint?: string;
  /** How long one read may take. @default 5_000 */
  timeoutMs?: number;
  /** Anything else for the SDK client, e.g. `credentials`. @default the SDK's default credential chain */
  client?: Partial<SecretsManagerClientConfig>;
}

const FAILURES: Record<string, SecretFailure> = {
  ResourceNotFoundException: 'not_found',
  AccessDeniedException: 'access_denied',
  UnrecognizedClientException: 'access_denied',
  InvalidSignatureException: 'access_denied',
  DecryptionFailure: 'access_denied',
  ThrottlingException: 'throttled',
  TooManyRequestsException: 'throttled',
  TimeoutError: 'timeout',
  RequestTimeout: 'timeout',
  AbortError: 'timeout',
};

/** A key in AWS Secrets Manager (its AWSCURRENT version). */
export class AwsSecretProvider implements SecretProvider {
  readonly description: string;
  private readonly client: SecretsManagerClient;

  constructor(private readonly options: AwsSecretOptions) {
    this.description = `AWS Secrets Manager secret '${options.secretId}'${options.jsonKey ? ` (key '${options.jsonKey}')` : ''}`;
    const timeoutMs = options.timeoutMs ?? 5_000;
    const { SecretsManagerClient } = loadSdk();
    const { NodeHttpHandler } = requireOptional<typeof SmithyHttp>('@smithy/node-http-handler', 'AwsSecretProvider', SDK_PACKAGES);
    this.client = new SecretsManagerClient({
      region: options.region,
      endpoint: options.endpoint,
      // One attempt: the key manager already reads again on its own schedule, and a retry's backoff would blur throttling into a timeout.
      maxAttempts: 1,
      // Without throwOnRequestTimeout the handler only warns, and a silent vault would hold the read forever.
      requestHandler: new NodeHttpHandler({ connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true }),
      ...options.client,
    });
  }

  async read(): Promise<SecretVersion> {
    let secret: { SecretString?: string; VersionId?: string };
    try {
      const abortSignal = AbortSignal.timeout(this.options.timeoutMs ?? 5_000);
      const { GetSecretValueCommand } = loadSdk();
      secret = await this.client.send(new GetSecretValueCommand({ SecretId: this.options.secretId }), { abortSignal });
    } catch (error) {
      const name = (error as Error).name;
      throw new SecretUnavailableError(FAILURES[name] ?? 'unreachable', this.description, `${name}: ${(error as Error).message}`);
    }
    const value = this.extract(secret.SecretString ?? '').trim();
    if (!value) throw new SecretUnavailableError('empty', this.description, 'it is empty');
    return { value, version: secret.VersionId ?? 'unknown' };
  }

  private extract(secretString: string): string {
    const key = this.options.jsonKey;
    if (!key) return secretString;
    let document: unknown;
    try {
      document = JSON.parse(secretString);
    } catch {
      throw new SecretUnavailableError('empty', this.description, 'the secret is not a JSON object');
    }
    const value = (document as Record<string, unknown> | null)?.[key];
    if (typeof value !== 'string') throw new SecretUnavailableError('not_found', this.description, `the secret has no string field '${key}'`);
    return value;
  }
}
