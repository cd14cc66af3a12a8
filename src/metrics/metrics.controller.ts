import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AiMetrics } from '@tollgate/ai';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { OpenAiErrorDto } from '../admin/openai-error.dto';
import { MetricsAuthGuard } from './metrics-auth.guard';

/** Prometheus scrapes this, with the metrics token: the library's metrics and the process's. */
@Controller('metrics')
@UseGuards(MetricsAuthGuard)
@ApiTags('metrics')
@ApiBearerAuth('metrics')
export class MetricsController {
  private readonly registry: Registry;

  constructor(metrics: AiMetrics) {
    const processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
    this.registry = Registry.merge([metrics.registry, processMetrics]);
  }

  @Get()
  @Header('content-type', Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({ summary: 'Prometheus metrics: every tenant’s calls, tokens and cost, the upstream’s keys and breakers, the process' })
  @ApiOkResponse({
    description: 'The Prometheus text exposition format.',
    content: { [Registry.PROMETHEUS_CONTENT_TYPE]: { schema: { type: 'string', example: '# TYPE tollgate_requests_total counter\n' } } },
  })
  @ApiResponse({ status: 401, description: 'With METRICS_TOKEN set: no token, or another (`invalid_api_key`).', type: OpenAiErrorDto })
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
