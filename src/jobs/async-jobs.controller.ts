import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AiService, ChatCompletionJob, ChatRequest } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayHttpException } from '../http/gateway-http.exception';
import { chatContextFor } from '../http/request-context';
import { AuthenticatedTenant, CurrentTenant, TenantAuthGuard } from '../tenancy/tenant-auth.guard';
import { AsyncChatCompletionRequestDto } from './async-chat-completion-request.dto';

/** Chat completions as jobs: 202 at once, then poll (or be called back) for the result. */
@Controller('v1/async')
@UseGuards(TenantAuthGuard)
@ApiBearerAuth('tenant')
@ApiTags('async')
export class AsyncJobsController {
  constructor(private readonly ai: AiService) {}

  @Post('chat/completions')
  @HttpCode(202)
  async submit(
    @Body() body: AsyncChatCompletionRequestDto,
    @CurrentTenant() tenant: AuthenticatedTenant,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChatCompletionJob & { estimated_wait_seconds: number }> {
    const { webhook_url: webhookUrl, stream, ...fields } = body;
    if (stream) throw GatewayHttpException.invalidRequest("A job's answer is read whole: leave 'stream' out, then poll the job.", 'stream');
    const { tenantId, keyId, contextPolicy } = chatContextFor(request, reply, tenant);
    // The DTO has just validated these fields against OpenAI's request shape.
    const job = await this.ai.submit(fields as unknown as ChatRequest, { tenantId, keyId, contextPolicy, webhookUrl });
    void reply.headers({ location: `/v1/async/jobs/${job.id}`, 'retry-after': String(job.estimated_wait_seconds) });
    return job;
  }

  @Get('jobs/:id')
  get(@Param('id') id: string, @CurrentTenant() tenant: AuthenticatedTenant): Promise<ChatCompletionJob> {
    return this.ai.getJob(id, tenant.id);
  }

  @Delete('jobs/:id')
  @HttpCode(200)
  cancel(@Param('id') id: string, @CurrentTenant() tenant: AuthenticatedTenant): Promise<ChatCompletionJob> {
    return this.ai.cancelJob(id, tenant.id);
  }
}
