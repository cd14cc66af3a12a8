import { Body, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { TenantService } from '@tollgate/ai/tenancy';
import { AdminController, ApiErrors } from './admin-controller.decorator';
import { TenantIdPipe } from './admin-params';
import { CreateTenantDto, TenantDto, TenantListDto, UpdateTenantDto } from './tenant.dto';

@AdminController('tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantService) {}

  @Post()
  @ApiOperation({ summary: 'Create a tenant' })
  @ApiCreatedResponse({ type: TenantDto })
  @ApiErrors(400, 409)
  create(@Body() body: CreateTenantDto): Promise<TenantDto> {
    return this.tenants.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List the tenants, disabled ones included' })
  @ApiOkResponse({ type: TenantListDto })
  async list(): Promise<TenantListDto> {
    return { object: 'list', data: await this.tenants.list() };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a tenant' })
  @ApiOkResponse({ type: TenantDto })
  @ApiErrors(400, 404)
  get(@Param('id', TenantIdPipe) id: string): Promise<TenantDto> {
    return this.tenants.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: "Rename a tenant, change its plan, disable or re-enable it" })
  @ApiOkResponse({ type: TenantDto })
  @ApiErrors(400, 404)
  update(@Param('id', TenantIdPipe) id: string, @Body() body: UpdateTenantDto): Promise<TenantDto> {
    return this.tenants.update(id, body);
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Disable a tenant',
    description: 'Its keys stop working within the key cache TTL; the tenant, its keys and its usage ledger are kept. PATCH `status: active` re-enables it.',
  })
  @ApiOkResponse({ type: TenantDto, description: 'The disabled tenant.' })
  @ApiErrors(400, 404)
  disable(@Param('id', TenantIdPipe) id: string): Promise<TenantDto> {
    return this.tenants.disable(id);
  }
}
