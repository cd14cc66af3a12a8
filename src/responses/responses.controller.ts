import { Body, Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { AiService, ResponseRequest, sendResponseStream } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import type { Response } from 'openai/resources/responses/responses';
import { ApiCallHeaders, ApiTenantErrors, SERVED_HEADERS, UPSTREAM_CALL_ERRORS } from '../admin/tenant-api.decorator';
import { GATEWAY_ERROR_WORDING } from '../http/openai-error';
import { chatContextFor } from '../http/request-context';
import { servedHeaders } from '../http/served-headers';
import { AuthenticatedTenant, CurrentTenant, TenantAuthGuard } from '../tenancy/tenant-auth.guard';
import { ResponseRequestDto } from './response-request.dto';
import { ResponseDto, ResponseStreamEventDto } from './response.dto';

@Controller('v1')
@UseGuards(TenantAuthGuard)
@ApiBearerAuth('tenant')
@ApiTags('openai')
@ApiExtraModels(ResponseDto, ResponseStreamEventDto)
export class ResponsesController {
  constructor(private readonly ai: AiService) {}

  @Post('responses')
  @HttpCode(200)
  @ApiOperation({ summary: "OpenAI's Responses API; `stream: true` as server-sent events with its typed events" })
  @ApiOkResponse({
    description:
      'The response, or with `stream: true` its events as server-sent events (`event: <type>` and `data: <event>`), as the upstream sent them. ' +
      'A failure after the first event is a last `error` event `{ type: "error", code, message, param, sequence_number }`.',
    headers: SERVED_HEADERS,
    content: {
      'application/json': { schema: { $ref: getSchemaPath(ResponseDto) } },
      'text/event-stream': { schema: { $ref: getSchemaPath(ResponseStreamEventDto) } },
    },
  })
  @ApiCallHeaders({ contextPolicy: false })
  @ApiTenantErrors(UPSTREAM_CALL_ERRORS)
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
