import { Clock } from '../common/clock';
import { AiError, RequestAbortedError, UpstreamTimeoutError } from '../errors/ai-errors';

export interface DeadlineLimits {
  /** The time the whole call may take. */
  durationMs: number;
  /** The time each attempt may wait for its answer (or a stream for its first chunk). */
  firstByteMs: number;
  /**
   * The caller asked for less than the configured total: running out of it says nothing about the
   * upstream's health, so it must not count against the breaker (or one tenant with a tiny timeout
   * could open it for everyone).
   */
  shortenedByCaller: boolean;
}

/** What the timer watches besides the end of the call: an attempt's first byte, or a backoff. */
interface Alarm {
  at: number;
  ring(): void;
  /** The call ended before the alarm rang. */
  cancel(reason: AiError): void;
}

/**
 * The time a call may take, with the one timer and the one AbortController that all its attempts
 * share. The timer is aimed at whichever comes first: the end of the call, or the wait under way
 * (the attempt's first byte, a backoff). The call ends with `UpstreamTimeoutError('deadline')` when
 * time is up and with `RequestAbortedError` as soon as the caller's own signal aborts; either
 * aborts the attempt in flight.
 */
export class Deadline {
  private controller = new AbortController();
  /** When time is up, by the injected clock: what the retry policy reads. */
  private readonly endsAt: number;
  /** The same moment by the event loop's clock (`performance.now()`), which timers count by: the timer is aimed by it. */
  private readonly expiresAt: number;
  private timer?: NodeJS.Timeout;
  /** When the timer goes off, by the event loop's clock. */
  private timerAt = Infinity;
  private timerDelayMs?: number;
  private alarm?: Alarm;
  private endReason?: AiError;
  private readonly onCallerAbort = () => this.end(new RequestAbortedError());

  constructor(
    private readonly clock: Clock,
    private readonly limits: DeadlineLimits,
    private readonly callerSignal?: AbortSignal,
  ) {
    this.endsAt = clock.now() + limits.durationMs;
    this.expiresAt = performance.now() + limits.durationMs;
    if (callerSignal?.aborted) this.end(new RequestAbortedError());
    else callerSignal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  remainingMs(): number {
    return Math.max(0, this.endsAt - this.clock.now());
  }

  /**
   * Starts an attempt's first-byte limit and returns the controller the attempt is cancelled with:
   * the call's own, or a new one when the previous attempt aborted it. Throws once the call has ended.
   */
  beginAttempt(): AbortController {
    if (this.endReason) throw this.endReason;
    // An aborted signal stays aborted: only an attempt that was cancelled on its own costs a controller.
    if (this.controller.signal.aborted) this.controller = new AbortController();
    const controller = this.controller;
    const ring = () => controller.abort(new UpstreamTimeoutError('first_byte'));
    this.setAlarm(this.limits.firstByteMs, { ring, cancel: () => undefined });
    return controller;
  }

  /** The attempt has its answer, or failed: its first-byte limit is over. */
  endAttempt(): void {
    // The timer is left where it is: it is re-aimed when it goes off, and usually cleared by `release` before.
    this.alarm = undefined;
  }

  /** Resolves after `ms`, or rejects with the reason the call ended for, as soon as it does. */
  sleep(ms: number): Promise<void> {
    if (this.endReason) return Promise.reject(this.endReason);
    return new Promise((resolve, reject) => this.setAlarm(ms, { ring: resolve, cancel: reject }));
  }

  /** Stops the clock and stops listening to the caller (a long-lived caller signal must not collect listeners). */
  release(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.alarm = undefined;
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }

  private setAlarm(ms: number, alarm: Omit<Alarm, 'at'>): void {
    const now = performance.now();
    this.alarm = { ...alarm, at: now + ms };
    if (this.alarm.at < this.timerAt) this.aim(this.alarm.at, now);
  }

  private end(reason: AiError): void {
    if (this.endReason) return;
    this.endReason = reason;
    this.alarm?.cancel(reason);
    this.release();
    this.controller.abort(reason);
  }

  private aim(at: number, now: number): void {
    this.timerAt = Math.min(at, this.expiresAt);
    // Whole milliseconds: Node keeps one list of timers per delay, and a fraction would make a list of its own.
    const delayMs = Math.max(0, Math.round(this.timerAt - now));
    // Node cannot change a timer's delay: a wait as long as the last one reuses the timer, any other needs a new one.
    if (this.timer && delayMs === this.timerDelayMs) return void this.timer.refresh();
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimer, delayMs);
    this.timerDelayMs = delayMs;
  }

  private readonly onTimer = () => {
    // Node times a timer from the loop's clock, read once per turn: it may go off a little before the time aimed at.
    const now = Math.max(performance.now(), this.timerAt);
    if (now >= this.expiresAt) return this.end(new UpstreamTimeoutError('deadline', {}, { tripsBreaker: !this.limits.shortenedByCaller }));
    const alarm = this.alarm;
    if (alarm && alarm.at <= now) {
      this.alarm = undefined;
      alarm.ring();
    }
    // With no wait under way, the next is most likely an attempt's: aimed at its first byte now, the timer need not move then.
    this.aim(this.alarm?.at ?? now + this.limits.firstByteMs, now);
  };
}
