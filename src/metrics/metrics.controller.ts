import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { AiMetrics } from '@tollgate/ai';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { MetricsAuthGuard } from './metrics-auth.guard';

/** Prometheus scrapes this, with the metrics token: the library's metrics and the process's. */
@ApiExcludeController()
@Controller('metrics')
@UseGuards(MetricsAuthGuard)
export class MetricsController {
  private readonly registry: Registry;

  constructor(metrics: AiMetrics) {
    const processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
    this.registry = Registry.merge([metrics.registry, processMetrics]);
  }

  @Get()
  @Header('content-type', Registry.PROMETHEUS_CONTENT_TYPE)
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
