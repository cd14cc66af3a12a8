import { Controller, Get, Param, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AiService } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import type { Model } from 'openai/resources/models';
import { ApiTenantErrors } from '../admin/tenant-api.decorator';
import { chatContextFor } from '../http/request-context';
import { AuthenticatedTenant, CurrentTenant, TenantAuthGuard } from '../tenancy/tenant-auth.guard';
import { ModelDto, ModelListDto } from './model.dto';

/** What asking the upstream for its models can answer, besides a wrong key. */
const MODEL_LIST_ERRORS = [401, 500, 502, 503, 504] as const;

@Controller('v1/models')
@UseGuards(TenantAuthGuard)
@ApiBearerAuth('tenant')
@ApiTags('openai')
export class ModelsController {
  constructor(private readonly ai: AiService) {}

  @Get()
  @ApiOperation({ summary: 'The upstream’s models this tenant may use (asked upstream at most once a minute)' })
  @ApiOkResponse({ type: ModelListDto })
  @ApiTenantErrors(MODEL_LIST_ERRORS)
  async list(
    @CurrentTenant() tenant: AuthenticatedTenant,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ object: 'list'; data: Model[] }> {
    return { object: 'list', data: await this.ai.listModels(chatContextFor(request, reply, tenant)) };
  }

  /** A model this tenant may use; 404 `model_not_found` for any other, as OpenAI answers for one it does not have. */
  @Get(':id')
  @ApiOperation({ summary: 'One of the models this tenant may use' })
  @ApiOkResponse({ type: ModelDto })
  @ApiTenantErrors([...MODEL_LIST_ERRORS, 404], { 404: 'Not a model this tenant may use (`model_not_found`), as OpenAI answers for one it does not have.' })
  retrieve(
    @Param('id') id: string,
    @CurrentTenant() tenant: AuthenticatedTenant,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Model> {
    return this.ai.retrieveModel(id, chatContextFor(request, reply, tenant));
  }
}
