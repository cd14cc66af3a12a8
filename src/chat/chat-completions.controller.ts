import { Body, Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { AiService, ChatRequest, ContextReport, sendChatStream } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { OpenAiErrorDto } from '../admin/openai-error.dto';
import { ApiCallHeaders, ApiTenantErrors, SERVED_HEADERS, UPSTREAM_CALL_ERRORS } from '../admin/tenant-api.decorator';
import { GATEWAY_ERROR_WORDING } from '../http/openai-error';
import { chatContextFor } from '../http/request-context';
import { Served, servedHeaders } from '../http/served-headers';
import { AuthenticatedTenant, CurrentTenant, TenantAuthGuard } from '../tenancy/tenant-auth.guard';
import { ChatCompletionRequestDto } from './chat-completion-request.dto';
import { ChatCompletionChunkDto, ChatCompletionDto } from './chat-completion.dto';

@Controller('v1/chat')
@UseGuards(TenantAuthGuard)
@ApiBearerAuth('tenant')
@ApiTags('openai')
@ApiExtraModels(ChatCompletionDto, ChatCompletionChunkDto)
export class ChatCompletionsController {
  constructor(private readonly ai: AiService) {}

  @Post('completions')
  @HttpCode(200)
  @ApiOperation({ summary: "OpenAI's chat completions, within the tenant's limits and quota; `stream: true` as server-sent events" })
  @ApiOkResponse({
    description:
      'The completion as JSON; with `stream: true`, server-sent events: `data: <chunk>` per chunk, then `data: [DONE]`. ' +
      'A failure after the first chunk is a last event `data: {"error": …}` in place of `[DONE]`.',
    headers: {
      ...SERVED_HEADERS,
      'x-tollgate-context': { description: 'What the context policy did to fit the prompt: `none`, `trimmed`, `summarized` or `upgraded`.', schema: { type: 'string' } },
      'x-tollgate-completion-allowance': { description: 'The completion limit the plan set on a request that named none.', schema: { type: 'integer' } },
    },
    content: {
      'application/json': { schema: { $ref: getSchemaPath(ChatCompletionDto) } },
      'text/event-stream': { schema: { oneOf: [{ $ref: getSchemaPath(ChatCompletionChunkDto) }, { $ref: getSchemaPath(OpenAiErrorDto) }] } },
    },
  })
  @ApiCallHeaders({ contextPolicy: true })
  @ApiTenantErrors(UPSTREAM_CALL_ERRORS)
  async create(
    @Body() body: ChatCompletionRequestDto,
    @CurrentTenant() tenant: AuthenticatedTenant,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChatCompletion | void> {
    const { stream, ...fields } = body;
    // The DTO has just validated these fields against OpenAI's request shape.
    const chatRequest = fields as unknown as ChatRequest;
    const context = chatContextFor(request, reply, tenant);
    if (stream) {
      const chunks = await this.ai.chatStream(chatRequest, context);
      return sendChatStream(reply, chunks, chatHeaders(chunks), GATEWAY_ERROR_WORDING);
    }
    const result = await this.ai.chat(chatRequest, context);
    void reply.headers(chatHeaders(result));
    return result.completion;
  }
}

interface ServedChat extends Served {
  context: ContextReport;
  completionAllowance?: number;
}

function chatHeaders(served: ServedChat): Record<string, string> {
  const headers = servedHeaders(served);
  // What the context policy did to make the prompt fit: none, trimmed, summarized or upgraded.
  headers['x-tollgate-context'] = served.context.action;
  // The completion limit the tenant's plan set on a request that named none.
  if (served.completionAllowance !== undefined) headers['x-tollgate-completion-allowance'] = String(served.completionAllowance);
  return headers;
}
