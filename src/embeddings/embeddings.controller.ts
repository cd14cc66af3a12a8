import { Body, Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AiService, EmbeddingRequest } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { ApiCallHeaders, ApiTenantErrors, SERVED_HEADERS, UPSTREAM_CALL_ERRORS } from '../admin/tenant-api.decorator';
import { chatContextFor } from '../http/request-context';
import { servedHeaders } from '../http/served-headers';
import { AuthenticatedTenant, CurrentTenant, TenantAuthGuard } from '../tenancy/tenant-auth.guard';
import { EmbeddingListDto } from './embedding-list.dto';
import { EmbeddingRequestDto } from './embedding-request.dto';

@Controller('v1')
@UseGuards(TenantAuthGuard)
@ApiBearerAuth('tenant')
@ApiTags('openai')
export class EmbeddingsController {
  constructor(private readonly ai: AiService) {}

  @Post('embeddings')
  @HttpCode(200)
  @ApiOperation({ summary: "OpenAI's embeddings, reserved by their input tokens and in the ledger" })
  @ApiOkResponse({ description: "OpenAI's embedding list, as the upstream answered it.", type: EmbeddingListDto, headers: SERVED_HEADERS })
  @ApiCallHeaders({ contextPolicy: false })
  @ApiTenantErrors(UPSTREAM_CALL_ERRORS)
  async create(
    @Body() body: EmbeddingRequestDto,
    @CurrentTenant() tenant: AuthenticatedTenant,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CreateEmbeddingResponse> {
    const result = await this.ai.embed(body as EmbeddingRequest, chatContextFor(request, reply, tenant));
    void reply.headers(servedHeaders(result));
    return result.embeddings;
  }
}
