import { Injectable, Logger } from '@nestjs/common';
import { Listeners } from '../common/listeners';

/** One upstream attempt's end: to its answer (or first chunk), or its failure. */
export interface AttemptEnded {
  model: string;
  /** The upstream's name (never a key). */
  upstream: string;
  /** `success`, or the error code the attempt ended with. */
  outcome: string;
  seconds: number;
}

/** A key went out of service or came back. */
export interface KeyStateChanged {
  upstream: string;
  key: string;
  state: 'out' | 'ready';
  reason?: string;
}

/** A call left a key for another one without waiting: the key was rate limited, out of credit or refused. */
export interface KeyFailedOver {
  upstream: string;
  key: string;
  /** The error code of the key's failure. */
  reason: string;
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
  /** An upstream 429 rests a key for its Retry-After. */
  readonly keyRested = new Listeners<{ upstream: string; key: string; retryAfterMs: number }>(this.logger);
  readonly keyStateChanged = new Listeners<KeyStateChanged>(this.logger);
  readonly keyFailedOver = new Listeners<KeyFailedOver>(this.logger);
}
