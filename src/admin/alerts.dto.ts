import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ActiveAlert, AlertSeverity } from '@tollgate/ai';

export class AlertDto implements ActiveAlert {
  @ApiProperty({ description: 'The rule, as config/alerts.yaml and config/prometheus/alerts.yml name it.', example: 'TollgateBreakerOpen' })
  name: string;

  @ApiProperty({ enum: ['warning', 'critical'] })
  severity: AlertSeverity;

  @ApiProperty({ enum: ['pending', 'firing'], description: "`pending` until the condition has held for the rule's forMs." })
  state: 'pending' | 'firing';

  @ApiProperty({ description: 'What the alert is about: a model, an outcome, a tenant and quota.', example: { model: 'gpt-4o' } })
  labels: Record<string, string>;

  @ApiProperty({ description: 'The measured value: a ratio, a count or seconds.' })
  value: number;

  @ApiProperty({ example: 'The breaker for gpt-4o is open.' })
  summary: string;

  @ApiProperty({ format: 'date-time', description: 'When the condition started to hold.' })
  activeSince: string;

  @ApiPropertyOptional({ format: 'date-time' })
  firingSince?: string;
}

export class AlertListDto {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ type: [AlertDto], description: 'Firing alerts first, then pending ones.' })
  data: AlertDto[];
}
