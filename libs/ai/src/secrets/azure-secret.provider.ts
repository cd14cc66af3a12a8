import type { TokenCredential } from '@azure/core-auth';
import type * as AzureIdentity from '@azure/identity';
import type * as KeyVaultSecrets from '@azure/keyvault-secrets';
import type { SecretClient, SecretClientOptions } from '@azure/keyvault-secrets';
import { requireOptional } from '../common/optional-package';
import { SecretFailure, SecretProvider, SecretUnavailableError, SecretVersion } from './secret-provider';

/** The Azure SDK is an optional peer dependency, loaded by the first provider. */
const SDK_PACKAGES = '@azure/keyvault-secrets @azure/identity';

function defaultCredential(): AzureIdentity.DefaultAzureCredential {
  return new (requireOptional<typeof AzureIdentity>('@azure/identity', 'AzureSecretProvider without a credential', SDK_PACKAGES).DefaultAzureCredential)();
}

export interface AzureSecretOptions {
  /** `https://<vault>.vault.azure.net` */
  vaultUrl: string;
  secretName: string;
  /** How long one read may take. @default 5_000 */
  timeoutMs?: number;
  /** @default DefaultAzureCredential (managed identity, workload identity, environment, Azure CLI…) */
  credential?: TokenCredential;
  /** Anything else for the SDK client. */
  client?: SecretClientOptions;
}

function failureOf(status: number | undefined, name: string): SecretFailure {
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403 || name === 'CredentialUnavailableError' || name === 'AuthenticationError') return 'access_denied';
  if (status === 429) return 'throttled';
  if (name === 'AbortError' || name === 'TimeoutError') return 'timeout';
  return 'unreachable';
}

/** A key in Azure Key Vault (its latest version). */
export class AzureSecretProvider implements SecretProvider {
  readonly description: string;
  private readonly client: SecretClient;

  constructor(private readonly options: AzureSecretOptions) {
    this.description = `Azure Key Vault secret '${options.secretName}' in ${options.vaultUrl}`;
    const { SecretClient } = requireOptional<typeof KeyVaultSecrets>('@azure/keyvault-secrets', 'AzureSecretProvider', SDK_PACKAGES);
    this.client = new SecretClient(options.vaultUrl, options.credential ?? defaultCredential(), {
      retryOptions: { maxRetries: 1 },
      ...options.client,
    });
  }

  async read(): Promise<SecretVersion> {
    try {
      const secret = await this.client.getSecret(this.options.secretName, {
        abortSignal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      });
      const value = secret.value?.trim();
      if (!value) throw new SecretUnavailableError('empty', this.description, 'it is empty');
      return { value, version: secret.properties.version ?? 'unknown' };
    } catch (error) {
      if (error instanceof SecretUnavailableError) throw error;
      const { statusCode, name, message } = error as { statusCode?: number; name: string; message: string };
      throw new SecretUnavailableError(failureOf(statusCode, name), this.description, `${name}${statusCode ? ` ${statusCode}` : ''}: ${firstLine(message)}`);
    }
  }
}

function firstLine(text: string): string {
  return text.split(/\r?\n/)[0];
}
