import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { UsageGroup, UsageGrouping } from '@tollgate/ai/tenancy';
import { buildMessage, IsIn, isISO8601, ValidateBy } from 'class-validator';
import { IsOmittable } from './admin-validation';

const USAGE_GROUPINGS: UsageGrouping[] = ['day', 'model'];
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

export function isIsoDate(value: string): boolean {
  return ISO_DATE.test(value);
}

/** `2026-11-01`, or a date-time with its zone: without one, the server's zone would decide what it means. */
function IsDateOrDateTime(): PropertyDecorator {
  return ValidateBy({
    name: 'isDateOrDateTime',
    validator: {
      // isISO8601 in strict mode refuses dates that do not exist (2026-02-30), which Date.parse rolls over.
      validate: (value: unknown) =>
        typeof value === 'string' && (ISO_DATE.test(value) || ISO_DATE_TIME.test(value)) && isISO8601(value, { strict: true }),
      defaultMessage: buildMessage(
        (eachPrefix) => `${eachPrefix}$property must be an ISO date (2026-11-01) or a date-time with a zone (2026-11-01T09:30:00Z)`,
      ),
    },
  });
}

export class UsageQueryDto {
  @ApiPropertyOptional({
    description:
      'Start, inclusive: a date (from 00:00 UTC) or a date-time with a zone. Default: the start of the current UTC month. ' +
      'A date-time inside a day whose single requests are deleted (past AI_LEDGER_RETENTION_DAYS) is refused: give a date.',
    example: '2026-11-01',
  })
  @IsOmittable()
  @IsDateOrDateTime()
  from?: string;

  @ApiPropertyOptional({
    description:
      'End: a date (that whole UTC day included) or a date-time with a zone (excluded). Default: now. ' +
      'A date-time inside a day whose single requests are deleted (past AI_LEDGER_RETENTION_DAYS) is refused: give a date.',
    example: '2026-11-30',
  })
  @IsOmittable()
  @IsDateOrDateTime()
  to?: string;

  @ApiPropertyOptional({ enum: USAGE_GROUPINGS, default: 'day' })
  @IsOmittable()
  @IsIn(USAGE_GROUPINGS)
  groupBy?: UsageGrouping;
}

export class UsageGroupDto implements UsageGroup {
  @ApiProperty({ description: 'The UTC day (2026-11-24) or the model served (the one requested when none answered).' })
  key: string;

  @ApiProperty()
  requests: number;

  @ApiProperty()
  promptTokens: number;

  @ApiProperty()
  completionTokens: number;

  @ApiProperty({ description: 'The part of promptTokens read from the prompt cache, billed at the model’s cached-input price.' })
  cachedTokens: number;

  @ApiProperty({ description: 'The part of completionTokens the model spent reasoning.' })
  reasoningTokens: number;

  @ApiProperty()
  costUsd: number;

  @ApiProperty({ description: 'Requests that did not end in success.' })
  failures: number;
}

export class UsageReportDto {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ example: 'acme' })
  tenantId: string;

  @ApiProperty({ format: 'date-time', description: 'Inclusive.' })
  from: string;

  @ApiProperty({ format: 'date-time', description: 'Exclusive.' })
  to: string;

  @ApiProperty({ enum: USAGE_GROUPINGS })
  groupBy: UsageGrouping;

  @ApiProperty({ type: [UsageGroupDto], description: 'Sorted by key; groups without requests are left out.' })
  data: UsageGroupDto[];
}
