import { ApiProperty } from '@nestjs/swagger';
import type { ChatCompletionJob, JobStatus, SubmittedJob, WebhookStatus } from '@tollgate/ai';
import { OpenAiErrorFieldsDto } from '../admin/openai-error.dto';
import { ChatCompletionDto } from '../chat/chat-completion.dto';

// Records, so that a status the library adds fails to compile until it is listed.
const JOB_STATUSES = Object.keys({ queued: true, running: true, succeeded: true, failed: true, cancelled: true } satisfies Record<JobStatus, true>);
const WEBHOOK_STATUSES = Object.keys({ pending: true, delivered: true, failed: true } satisfies Record<WebhookStatus, true>);

const UNIX_SECONDS = { type: Number, nullable: true, description: 'Unix seconds.' } as const;

/** A job as its tenant sees it, in its answers and in the webhook's body. */
export class ChatCompletionJobDto implements ChatCompletionJob {
  @ApiProperty({ example: 'job_3f2a9c1b7d4e4b0f8a6c2d1e5f7a9b3c' })
  id: string;

  @ApiProperty({ enum: ['chat.completion.job'] })
  object: 'chat.completion.job';

  @ApiProperty({ enum: JOB_STATUSES })
  status: JobStatus;

  @ApiProperty({ example: 'gpt-4o-mini' })
  model: string;

  @ApiProperty({ description: 'Unix seconds.' })
  created_at: number;

  @ApiProperty(UNIX_SECONDS)
  started_at: number | null;

  @ApiProperty(UNIX_SECONDS)
  completed_at: number | null;

  @ApiProperty({ ...UNIX_SECONDS, description: 'When a finished job is deleted, in Unix seconds.' })
  expires_at: number | null;

  @ApiProperty({ description: 'Times a worker started it: more than one after a rate-limit deferral or a worker’s crash.' })
  attempts: number;

  @ApiProperty({ type: ChatCompletionDto, nullable: true, description: 'The completion, once the job `succeeded`.' })
  completion: ChatCompletionDto | null;

  @ApiProperty({ type: OpenAiErrorFieldsDto, nullable: true, description: 'The failure in OpenAI’s error shape, once the job `failed`.' })
  error: OpenAiErrorFieldsDto | null;

  @ApiProperty({ type: String, nullable: true })
  webhook_url: string | null;

  @ApiProperty({ enum: WEBHOOK_STATUSES, nullable: true })
  webhook_status: WebhookStatus | null;
}

export class SubmittedJobDto extends ChatCompletionJobDto implements SubmittedJob {
  @ApiProperty({ description: 'Roughly how long until it finishes: the jobs ahead of it, at the recent pace (also in Retry-After).' })
  estimated_wait_seconds: number;
}
