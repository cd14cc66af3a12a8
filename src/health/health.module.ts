import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { UPSTREAM_STATUS_PAGE_OPTIONS, UpstreamStatusPage, UpstreamStatusPageOptions } from '@tollgate/ai';
import { AiHealthIndicators } from '@tollgate/ai/health';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';
import { HealthController } from './health.controller';
import { ShutdownGate } from './shutdown-gate';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json' })],
  controllers: [HealthController],
  providers: [
    AiHealthIndicators,
    UpstreamStatusPage,
    {
      provide: UPSTREAM_STATUS_PAGE_OPTIONS,
      useFactory: (config: ConfigService): UpstreamStatusPageOptions => ({ url: config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG).statusUrl }),
      inject: [ConfigService],
    },
    ShutdownGate,
  ],
})
export class HealthModule {}
