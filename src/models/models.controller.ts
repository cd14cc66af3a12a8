import { Controller, Get, Param, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AiService } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import type { Model } from 'openai/resources/models';
import { chatContextFor } from '../http/request-context';
import { AuthenticatedTenant, CurrentTenant, TenantAuthGuard } from '../tenancy/tenant-auth.guard';

@Controller('v1/models')
@UseGuards(TenantAuthGuard)
@ApiBearerAuth('tenant')
@ApiTags('openai')
export class ModelsController {
  constructor(private readonly ai: AiService) {}

  @Get()
  async list(
    @CurrentTenant() tenant: AuthenticatedTenant,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ object: 'list'; data: Model[] }> {
    return { object: 'list', data: await this.ai.listModels(chatContextFor(request, reply, tenant)) };
  }

  /** A model this tenant may use; 404 `model_not_found` for any other, as OpenAI answers for one it does not have. */
  @Get(':id')
  retrieve(
    @Param('id') id: string,
    @CurrentTenant() tenant: AuthenticatedTenant,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Model> {
    return this.ai.retrieveModel(id, chatContextFor(request, reply, tenant));
  }
}
