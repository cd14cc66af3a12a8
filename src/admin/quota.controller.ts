import { Body, Get, Param, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { QuotaService } from '@tollgate/ai/tenancy';
import { AdminController, ApiErrors } from './admin-controller.decorator';
import { TenantIdPipe } from './admin-params';
import { QuotaViewDto } from './quota.dto';
import { LimitOverridesDto } from './tenant-limits.dto';

@AdminController('tenants/:id/quota')
export class QuotaController {
  constructor(private readonly quota: QuotaService) {}

  @Get()
  @ApiOperation({ summary: "A tenant's limits, use in the current windows, what is left and when it renews" })
  @ApiOkResponse({ type: QuotaViewDto })
  @ApiErrors(400, 404)
  view(@Param('id', TenantIdPipe) tenantId: string): Promise<QuotaViewDto> {
    return this.quota.view(tenantId);
  }

  @Put()
  @ApiOperation({
    summary: "Set a tenant's limits",
    description:
      "Sets the tenant's overrides of its plan, replacing earlier ones: a field left out is the plan's value, `null` removes that limit " +
      '(send every override you want to keep). ' +
      'Counts are whole numbers of 0 or more; `costPerMonthUsd` may be fractional; models must be known to config/models.yaml.',
  })
  @ApiOkResponse({ type: QuotaViewDto, description: 'The new quota view.' })
  @ApiErrors(400, 404)
  update(@Param('id', TenantIdPipe) tenantId: string, @Body() body: LimitOverridesDto): Promise<QuotaViewDto> {
    return this.quota.update(tenantId, body);
  }
}
