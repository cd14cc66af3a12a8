import { ApiProperty } from '@nestjs/swagger';
import { QuotaView, QuotaWindowView } from '@tollgate/ai/tenancy';
import { TenantLimitsDto } from './tenant-limits.dto';

export class QuotaWindowDto implements QuotaWindowView {
  @ApiProperty({ type: Number, nullable: true, description: 'null: no limit.' })
  limit: number | null;

  @ApiProperty({ description: 'Used in the current window, reservations of requests in flight included.' })
  used: number;

  @ApiProperty({ type: Number, nullable: true, description: 'null: no limit.' })
  remaining: number | null;

  @ApiProperty({ format: 'date-time', description: 'When the window renews (UTC).' })
  resetsAt: string;
}

export class QuotaViewDto implements QuotaView {
  @ApiProperty({ example: 'acme' })
  tenantId: string;

  @ApiProperty({ example: 'default' })
  plan: string;

  @ApiProperty({ type: TenantLimitsDto, description: "The plan's limits with the tenant's overrides applied." })
  limits: TenantLimitsDto;

  @ApiProperty({ type: QuotaWindowDto, description: 'The current UTC day.' })
  requestsPerDay: QuotaWindowDto;

  @ApiProperty({ type: QuotaWindowDto, description: 'The current UTC month.' })
  tokensPerMonth: QuotaWindowDto;

  @ApiProperty({ type: QuotaWindowDto, description: 'The current UTC month, in USD.' })
  costPerMonthUsd: QuotaWindowDto;
}
