import { Inject } from '@nestjs/common';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { JobErrorFields } from '../ai-module-options';
import type { ChatRequest } from '../chat/chat-request';
import type { ContextPolicy } from '../tenancy/tenant-limits';
import type { JobStatus, WebhookStatus } from './job.entity';

/** Who a job is for, as for `AiService.chat`, and where to say that it finished. */
export interface JobContext {
  tenantId: string;
  /** The tenant's key that submitted the job, for the ledger. */
  keyId?: string;
  contextPolicy?: ContextPolicy;
  /** Called with the finished job; it must be allowed by the `jobs.webhook*` options, at submit and at delivery. */
  webhookUrl?: string;
}

/**
 * A job as its tenant sees it, in OpenAI's style (like a Batch object): the same in the library,
 * in the gateway's answers and in the webhook's body. Times are Unix seconds.
 */
export interface ChatCompletionJob {
  id: string;
  object: 'chat.completion.job';
  status: JobStatus;
  model: string;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  /** When a finished job is deleted. */
  expires_at: number | null;
  /** Times a worker started it; more than one after a rate-limit deferral or a worker's crash. */
  attempts: number;
  /** The completion, once it `succeeded`. */
  completion: ChatCompletion | null;
  /** The failure in OpenAI's error shape, once it `failed`. */
  error: JobErrorFields | null;
  webhook_url: string | null;
  webhook_status: WebhookStatus | null;
}

export interface SubmittedJob extends ChatCompletionJob {
  /** Roughly how long until it finishes: the jobs ahead of it, at the recent pace. */
  estimated_wait_seconds: number;
}

/** What AiService asks of the jobs (JobsService), which exist only with a database: absent without one. */
export interface Jobs {
  submit(request: ChatRequest, context: JobContext): Promise<SubmittedJob>;
  get(jobId: string, tenantId: string): Promise<ChatCompletionJob>;
  cancel(jobId: string, tenantId: string): Promise<ChatCompletionJob>;
}

export const Jobs = Symbol('Jobs');
export const InjectJobs = () => Inject(Jobs);

/** What the module's ordered shutdown asks of the job runner (JobRunner), with a database. */
export interface JobsShutdown {
  /** Lets the running jobs finish, or puts them back in the queue. */
  shutdown(): Promise<void>;
}

export const JobsShutdown = Symbol('JobsShutdown');
export const InjectJobsShutdown = () => Inject(JobsShutdown);
