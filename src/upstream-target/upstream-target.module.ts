import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';
import { UpstreamTarget } from './upstream-target';

@Module({
  providers: [
    {
      provide: UpstreamTarget,
      useFactory: (config: ConfigService) => UpstreamTarget.resolve(config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG)),
      inject: [ConfigService],
    },
  ],
  exports: [UpstreamTarget],
})
export class UpstreamTargetModule {}
