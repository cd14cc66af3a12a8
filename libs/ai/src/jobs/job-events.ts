import { Injectable, Logger } from '@nestjs/common';
import { Listeners } from '../common/listeners';
import type { JobStatus } from './job.entity';
import type { DeliveryOutcome } from './webhook-notifier';

/** What the job runner announces; metrics listen. */
@Injectable()
export class JobEvents {
  private readonly logger = new Logger(JobEvents.name);
  /** A job's first run started, this long after it was submitted. */
  readonly firstRunStarted = new Listeners<{ waitSeconds: number }>(this.logger);
  /** This replica settled a job. */
  readonly finished = new Listeners<{ status: JobStatus }>(this.logger);
  /** This replica settled a job's webhook. */
  readonly webhookSettled = new Listeners<{ outcome: Exclude<DeliveryOutcome, 'interrupted'> }>(this.logger);
}
