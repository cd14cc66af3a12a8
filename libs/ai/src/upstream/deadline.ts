import { Clock } from '../common/clock';
import { RequestAbortedError, UpstreamTimeoutError } from '../errors/ai-errors';

/**
 * The time a call may take, and the one signal every upstream attempt of it listens to:
 * it aborts with `UpstreamTimeoutError('deadline')` when time is up, and with
 * `RequestAbortedError` as soon as the caller's own signal aborts.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly expiresAt: number;
  private readonly onCallerAbort = () => this.controller.abort(new RequestAbortedError());
  private readonly timer: NodeJS.Timeout;

  /**
   * @param shortenedByCaller the caller asked for less than the configured total: running out of it
   *   says nothing about the upstream's health, so it must not count against the breaker (or one
   *   tenant with a tiny timeout could open it for everyone).
   */
  constructor(
    private readonly clock: Clock,
    durationMs: number,
    private readonly callerSignal?: AbortSignal,
    shortenedByCaller = false,
  ) {
    this.expiresAt = clock.now() + durationMs;
    const expired = () => new UpstreamTimeoutError('deadline', {}, { tripsBreaker: !shortenedByCaller });
    this.timer = setTimeout(() => this.controller.abort(expired()), durationMs);
    if (callerSignal?.aborted) this.controller.abort(new RequestAbortedError());
    callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, this.expiresAt - this.clock.now());
  }

  /** Stops the clock and stops listening to the caller (a long-lived caller signal must not collect listeners). */
  release(): void {
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }
}
