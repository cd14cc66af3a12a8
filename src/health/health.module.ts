import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { OpenAiStatusPage } from './openai-status-page';
import { ReadinessIndicators } from './readiness.indicators';
import { ShutdownGate } from './shutdown-gate';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json' })],
  controllers: [HealthController],
  providers: [ReadinessIndicators, OpenAiStatusPage, ShutdownGate],
})
export class HealthModule {}
