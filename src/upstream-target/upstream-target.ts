import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { AiModuleOptions, FileSecretProvider, PoolUpstreamOptions, SecretProvider, StaticSecretProvider } from '@tollgate/ai';
import { AwsSecretProvider } from '@tollgate/ai/secrets/aws';
import { AzureSecretProvider } from '@tollgate/ai/secrets/azure';
import type { RunningSimulator } from '@tollgate/simulator';
import { GatewayConfig, SecretSource } from '../config/gateway-config';
import { UpstreamsFile } from '../config/upstreams-file';

/** What AiModule is told of the upstreams: one (`upstream`) or a pool (`upstreams` and `routes`). */
export type UpstreamChoice = Pick<AiModuleOptions, 'upstream' | 'upstreams' | 'routes'>;

/**
 * Where the gateway sends upstream calls and reads the upstream keys from: the upstreams of config/upstreams.yaml,
 * the one of OPENAI_BASE_URL and AI_SECRET_PROVIDER, or the built-in simulator.
 */
export class UpstreamTarget implements OnApplicationShutdown {
  private constructor(
    readonly options: UpstreamChoice,
    /** Where the key `key` of `upstream` is read from (`env`, `file`, `aws`, `azure`). */
    readonly providerOf: (upstream: string, key: string) => SecretSource['provider'] | undefined,
    private readonly simulator?: RunningSimulator,
  ) {}

  static async resolve(config: GatewayConfig): Promise<UpstreamTarget> {
    if (config.upstreamsFile) return UpstreamTarget.fromFile(config.upstreamsFile);
    const { baseURL, secret } = config.upstream;
    if (secret) return new UpstreamTarget({ upstream: { baseURL, secretProvider: secretProviderFor(secret) } }, () => secret.provider);
    // Validation has already stopped a production start without a key; only here is the simulator loaded.
    const { startSimulator } = await import('@tollgate/simulator');
    const simulator = await startSimulator();
    new Logger('Upstream').warn(
      `No OPENAI_API_KEY is set: serving every request from the built-in SIMULATOR at ${simulator.url}, not from OpenAI. ` +
        'Set OPENAI_API_KEY to use the real upstream.',
    );
    const secretProvider = new StaticSecretProvider('sk-simulator', 'the simulator');
    return new UpstreamTarget({ upstream: { baseURL: simulator.url, secretProvider } }, () => 'env', simulator);
  }

  private static fromFile(file: UpstreamsFile): UpstreamTarget {
    const providers = new Map<string, SecretSource['provider']>();
    const upstreams = file.upstreams.map(
      ({ keys, ...upstream }): PoolUpstreamOptions => ({
        ...upstream,
        keys: keys.map(({ secret, ...key }, index) => {
          providers.set(`${upstream.name}/${key.name ?? `key-${index + 1}`}`, secret.provider);
          return { ...key, secretProvider: secretProviderFor(secret, `${file.path}: ${upstream.name}`) };
        }),
      }),
    );
    new Logger('Upstream').log(`${upstreams.length} upstream(s) from ${file.path}: ${upstreams.map((upstream) => upstream.name).join(', ')}`);
    return new UpstreamTarget({ upstreams, routes: file.routes }, (upstream, key) => providers.get(`${upstream}/${key}`));
  }

  get simulated(): boolean {
    return this.simulator !== undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.simulator?.close();
  }
}

function secretProviderFor(source: SecretSource, where?: string): SecretProvider {
  switch (source.provider) {
    case 'env':
      return new StaticSecretProvider(source.apiKey, where ? `an environment variable (${where})` : 'OPENAI_API_KEY (AI_SECRET_PROVIDER=env)');
    case 'file':
      return new FileSecretProvider(source.path);
    case 'aws':
      return new AwsSecretProvider(source);
    case 'azure':
      return new AzureSecretProvider(source);
  }
}
