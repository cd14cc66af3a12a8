import { Injectable, Logger } from '@nestjs/common';
import { Listeners } from '../common/listeners';

/** One upstream attempt's end: to its answer (or first chunk), or its failure. */
export interface AttemptEnded {
  model: string;
  /** `success`, or the error code the attempt ended with. */
  outcome: string;
  seconds: number;
}

/** What the resilient call path announces; metrics listen. */
@Injectable()
export class UpstreamEvents {
  private readonly logger = new Logger(UpstreamEvents.name);
  readonly attemptEnded = new Listeners<AttemptEnded>(this.logger);
  /** A model's call is retried after a backoff. */
  readonly retried = new Listeners<{ model: string }>(this.logger);
  /** A retry or fallback was not made: the retry budget was spent. */
  readonly retryRefusedByBudget = new Listeners<void>(this.logger);
}
