import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { FileSecretProvider, SecretProvider, StaticSecretProvider } from '@tollgate/ai';
import { AwsSecretProvider } from '@tollgate/ai/secrets/aws';
import { AzureSecretProvider } from '@tollgate/ai/secrets/azure';
import type { RunningSimulator } from '@tollgate/simulator';
import { GatewayConfig, SecretSource } from '../config/gateway-config';

/** Where the gateway sends upstream calls and reads the upstream key from: the configured upstream, or the built-in simulator. */
export class UpstreamTarget implements OnApplicationShutdown {
  private constructor(
    readonly baseURL: string,
    readonly secretProvider: SecretProvider,
    readonly providerName: SecretSource['provider'],
    private readonly simulator?: RunningSimulator,
  ) {}

  static async resolve(config: GatewayConfig): Promise<UpstreamTarget> {
    const { baseURL, secret } = config.upstream;
    if (secret) return new UpstreamTarget(baseURL, secretProviderFor(secret), secret.provider);
    // Validation has already stopped a production start without a key; only here is the simulator loaded.
    const { startSimulator } = await import('@tollgate/simulator');
    const simulator = await startSimulator();
    new Logger('Upstream').warn(
      `No OPENAI_API_KEY is set: serving every request from the built-in SIMULATOR at ${simulator.url}, not from OpenAI. ` +
        'Set OPENAI_API_KEY to use the real upstream.',
    );
    return new UpstreamTarget(simulator.url, new StaticSecretProvider('sk-simulator', 'the simulator'), 'env', simulator);
  }

  get simulated(): boolean {
    return this.simulator !== undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.simulator?.close();
  }
}

function secretProviderFor(source: SecretSource): SecretProvider {
  switch (source.provider) {
    case 'env':
      return new StaticSecretProvider(source.apiKey, 'OPENAI_API_KEY (AI_SECRET_PROVIDER=env)');
    case 'file':
      return new FileSecretProvider(source.path);
    case 'aws':
      return new AwsSecretProvider(source);
    case 'azure':
      return new AzureSecretProvider(source);
  }
}
