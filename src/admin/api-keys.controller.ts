import { Body, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ApiKeyService } from '@tollgate/ai/tenancy';
import { AdminController, ApiErrors } from './admin-controller.decorator';
import { KeyIdPipe, TenantIdPipe } from './admin-params';
import { ApiKeyListDto, IssuedApiKeyDto, IssueApiKeyDto } from './api-key.dto';

@AdminController('tenants/:id/keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeyService) {}

  @Post()
  @ApiOperation({ summary: 'Issue a key to a tenant', description: 'The response is the only time the key is shown.' })
  @ApiCreatedResponse({ type: IssuedApiKeyDto })
  @ApiErrors(400, 404)
  issue(@Param('id', TenantIdPipe) tenantId: string, @Body() body: IssueApiKeyDto): Promise<IssuedApiKeyDto> {
    return this.keys.issue(tenantId, body.name ?? null);
  }

  @Get()
  @ApiOperation({ summary: "List a tenant's keys" })
  @ApiOkResponse({ type: ApiKeyListDto })
  @ApiErrors(400, 404)
  async list(@Param('id', TenantIdPipe) tenantId: string): Promise<ApiKeyListDto> {
    return { object: 'list', data: await this.keys.list(tenantId) };
  }

  @Delete(':keyId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a key', description: 'It stops working within the key cache TTL (AI_KEY_CACHE_TTL_MS). Revoking twice is not an error.' })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  revoke(@Param('id', TenantIdPipe) tenantId: string, @Param('keyId', KeyIdPipe) keyId: string): Promise<void> {
    return this.keys.revoke(tenantId, keyId);
  }
}
