import { Body, Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AiService, ResponseRequest, sendResponseStream } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import type { Response } from 'openai/resources/responses/responses';
import { GATEWAY_ERROR_WORDING } from '../http/openai-error';
import { chatContextFor } from '../http/request-context';
import { servedHeaders } from '../http/served-headers';
import { AuthenticatedTenant, CurrentTenant, TenantAuthGuard } from '../tenancy/tenant-auth.guard';
import { ResponseRequestDto } from './response-request.dto';

@Controller('v1')
@UseGuards(TenantAuthGuard)
@ApiBearerAuth('tenant')
@ApiTags('openai')
export class ResponsesController {
  constructor(private readonly ai: AiService) {}

  @Post('responses')
  @HttpCode(200)
  @ApiOperation({ summary: "OpenAI's Responses API; `stream: true` as server-sent events with its typed events" })
  @ApiOkResponse({ description: 'The response, or its events as `text/event-stream`, as the upstream sent them.' })
  async create(
    @Body() body: ResponseRequestDto,
    @CurrentTenant() tenant: AuthenticatedTenant,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Response | void> {
    const { stream, background: _background, ...fields } = body;
    // The DTO has just validated these fields against OpenAI's request shape.
    const responseRequest = fields as unknown as ResponseRequest;
    const context = chatContextFor(request, reply, tenant);
    if (stream) {
      const events = await this.ai.respondStream(responseRequest, context);
      return sendResponseStream(reply, events, servedHeaders(events), GATEWAY_ERROR_WORDING);
    }
    const result = await this.ai.respond(responseRequest, context);
    void reply.headers(servedHeaders(result));
    return result.response;
  }
}
