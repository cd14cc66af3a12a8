import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { StatusPageReport } from '@tollgate/ai';
import type { UpstreamHealth } from '../health/health.controller';
import { BreakerStatusDto } from './upstream.dto';

// Records, so that a value added to the type fails to compile until it is listed.
const HEALTH_STATUSES = Object.keys({ ok: true, degraded: true, unknown: true } satisfies Record<UpstreamHealth['status'], true>);
const INDICATORS = Object.keys({ none: true, minor: true, major: true, critical: true, unknown: true } satisfies Record<StatusPageReport['indicator'], true>);

class AffectedComponentDto {
  @ApiProperty({ example: 'Chat Completions' })
  name: string;

  @ApiProperty({ description: 'As the page names it.', example: 'degraded_performance' })
  status: string;
}

export class StatusPageReportDto implements StatusPageReport {
  @ApiProperty({ enum: INDICATORS, description: '`none` means all is well, `unknown` that no page could be read.' })
  indicator: StatusPageReport['indicator'];

  @ApiProperty({ example: 'All Systems Operational' })
  description: string;

  @ApiProperty({ type: [AffectedComponentDto], description: 'The components the page reports as not operational.' })
  affectedComponents: AffectedComponentDto[];

  @ApiPropertyOptional({ enum: ['incident.io', 'statuspage'], description: 'Which page answered.' })
  source?: StatusPageReport['source'];

  @ApiProperty({ format: 'date-time' })
  checkedAt: string;
}

class ErrorRateDto {
  @ApiProperty({ description: "Calls that reached the upstream in the breakers' rolling windows." })
  calls: number;

  @ApiProperty({ description: 'Of those, the ones that failed the upstream.' })
  failures: number;

  @ApiProperty({ description: 'failures / calls; 0 without calls.', example: 0.02 })
  ratio: number;
}

export class UpstreamHealthDto implements UpstreamHealth {
  @ApiProperty({ enum: HEALTH_STATUSES, description: '`degraded` while the status page reports an incident or a breaker is not closed; `unknown` while no page could be read.' })
  status: UpstreamHealth['status'];

  @ApiProperty({ type: StatusPageReportDto })
  statusPage: StatusPageReportDto;

  @ApiProperty({ type: [BreakerStatusDto] })
  breakers: BreakerStatusDto[];

  @ApiProperty({ type: ErrorRateDto })
  errorRate: ErrorRateDto;
}
