import { DynamicModule, Module } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { AiModule } from '@tollgate/ai';
import { AdminModule } from './admin/admin.module';
import { ChatCompletionsController } from './chat/chat-completions.controller';
import { EmbeddingsController } from './embeddings/embeddings.controller';
import { ResponsesController } from './responses/responses.controller';
import { AsyncJobsController } from './jobs/async-jobs.controller';
import { GATEWAY_CONFIG, GatewayConfig, loadGatewayConfig } from './config/gateway-config';
import { DemoData } from './demo/demo-data';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsController } from './metrics/metrics.controller';
import { ModelsController } from './models/models.controller';
import { UpstreamTarget } from './upstream-target/upstream-target';
import { UpstreamTargetModule } from './upstream-target/upstream-target.module';

export type Environment = Record<string, string | undefined>;

/** The reference gateway: AiModule, imported exactly as a user's application would, behind OpenAI's HTTP API. */
@Module({})
export class AppModule {
  /** `logDestination`: where the JSON log lines go (stdout unless a test captures them). */
  static forRoot(env: Environment = process.env, logDestination?: DestinationStream): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          skipProcessEnv: true,
          validatePredefined: false,
          load: [() => ({ [GATEWAY_CONFIG]: loadGatewayConfig(env) })],
        }),
        LoggingModule.forRoot(logDestination),
        UpstreamTargetModule,
        AdminModule,
        HealthModule,
        AiModule.forRootAsync({
          isGlobal: true,
          withDatabase: true,
          imports: [UpstreamTargetModule],
          inject: [ConfigService, UpstreamTarget],
          useFactory: (config: ConfigService, target: UpstreamTarget) => ({
            ...target.options,
            ...config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG).policies,
          }),
        }),
      ],
      controllers: [ChatCompletionsController, EmbeddingsController, ResponsesController, AsyncJobsController, ModelsController, MetricsController],
      providers: [DemoData],
    };
  }
}
