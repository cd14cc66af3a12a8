import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AiService, ChatCompletionJob, ChatRequest } from '@tollgate/ai';
import { FastifyReply, FastifyRequest } from 'fastify';
import { ApiCallHeaders, ApiTenantErrors, NO_UPSTREAM_503 } from '../admin/tenant-api.decorator';
import { GatewayHttpException } from '../http/gateway-http.exception';
import { chatContextFor } from '../http/request-context';
import { AuthenticatedTenant, CurrentTenant, TenantAuthGuard } from '../tenancy/tenant-auth.guard';
import { AsyncChatCompletionRequestDto } from './async-chat-completion-request.dto';
import { ChatCompletionJobDto, SubmittedJobDto } from './chat-completion-job.dto';

const NO_SUCH_JOB = { ...NO_UPSTREAM_503, 404: 'No job of this tenant has this id, or it has expired (`job_not_found`).' };

/** Chat completions as jobs: 202 at once, then poll (or be called back) for the result. */
@Controller('v1/async')
@UseGuards(TenantAuthGuard)
@ApiBearerAuth('tenant')
@ApiTags('async')
export class AsyncJobsController {
  constructor(private readonly ai: AiService) {}

  @Post('chat/completions')
  @HttpCode(202)
  @ApiOperation({ summary: 'A chat completion as a job: answered at once, run within the tenant’s limits, then polled (or called back)' })
  @ApiAcceptedResponse({
    type: SubmittedJobDto,
    headers: {
      location: { description: 'The job: `/v1/async/jobs/{id}`.', schema: { type: 'string' } },
      'retry-after': { description: 'When to poll it first, in seconds.', schema: { type: 'integer' } },
    },
  })
  @ApiCallHeaders({ contextPolicy: true })
  @ApiTenantErrors([400, 401, 403, 404, 413, 415, 429, 500, 503], {
    400: 'Invalid request: `error.param` names the field (code null, `invalid_value`, `model_not_priced`); `stream` is refused; a webhook off the allow-list (`webhook_not_allowed`).',
    429: 'The tenant’s requests per minute (`rate_limit_exceeded`), or too many of its jobs unfinished (`too_many_jobs`).',
    ...NO_UPSTREAM_503,
  })
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
  @ApiOperation({ summary: 'A job of this tenant: its status, then its completion or error' })
  @ApiOkResponse({ type: ChatCompletionJobDto })
  @ApiTenantErrors([401, 404, 500, 503], NO_SUCH_JOB)
  get(@Param('id') id: string, @CurrentTenant() tenant: AuthenticatedTenant): Promise<ChatCompletionJob> {
    return this.ai.getJob(id, tenant.id);
  }

  @Delete('jobs/:id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancels a job that has not finished; a finished one is answered as it is' })
  @ApiOkResponse({ type: ChatCompletionJobDto })
  @ApiTenantErrors([401, 404, 500, 503], NO_SUCH_JOB)
  cancel(@Param('id') id: string, @CurrentTenant() tenant: AuthenticatedTenant): Promise<ChatCompletionJob> {
    return this.ai.cancelJob(id, tenant.id);
  }
}
