import { Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminController, ApiErrors } from './admin-controller.decorator';
import { TenantIdPipe } from './admin-params';
import { UsageReportService } from './usage-report.service';
import { UsageQueryDto, UsageReportDto } from './usage.dto';

@AdminController('tenants/:id/usage')
export class UsageController {
  constructor(private readonly reports: UsageReportService) {}

  @Get()
  @ApiOperation({
    summary: "A tenant's usage from the ledger, by UTC day or by model",
    description:
      'Every request that reached the upstream, success or failure; the ledger is written in batches, so the last second may be missing. ' +
      'Closed UTC days are read from their daily roll-ups, with the same sums; once a day’s single requests are deleted (AI_LEDGER_RETENTION_DAYS), ' +
      'an edge inside it is a 400: such a day is reported whole only.',
  })
  @ApiOkResponse({ type: UsageReportDto })
  @ApiErrors(400, 404)
  report(@Param('id', TenantIdPipe) tenantId: string, @Query() query: UsageQueryDto): Promise<UsageReportDto> {
    return this.reports.report(tenantId, query);
  }
}
