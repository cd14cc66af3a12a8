import { getEventListeners } from 'node:events';
import { SystemClock } from '../common/clock';
import { RequestAbortedError, UpstreamTimeoutError } from '../errors/ai-errors';
import { track, useFakeTime } from '../../test/async';
import { FakeClock } from '../../test/fake-clock';
import { Deadline, DeadlineLimits } from './deadline';

const LIMITS: DeadlineLimits = { durationMs: 10_000, firstByteMs: 1_000, shortenedByCaller: false };

describe(Deadline.name, () => {
  let deadline: Deadline | undefined;

  beforeEach(() => useFakeTime());

  afterEach(() => {
    deadline?.release();
    jest.useRealTimers();
  });

  const aDeadline = (limits: Partial<DeadlineLimits> = {}, callerSignal?: AbortSignal, clock = new SystemClock()) =>
    (deadline = new Deadline(clock, { ...LIMITS, ...limits }, callerSignal));

  it('should abort the attempt in flight at the end of the call, and refuse any other', () => {
    const limits = aDeadline({ durationMs: 5_000, firstByteMs: 60_000 });
    const attempt = limits.beginAttempt();

    jest.advanceTimersByTime(4_999);
    expect(attempt.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);

    expect(attempt.signal.reason).toBeInstanceOf(UpstreamTimeoutError);
    expect(attempt.signal.reason).toMatchObject({ timeout: 'deadline', policy: { tripsBreaker: true } });
    expect(() => limits.beginAttempt()).toThrow(attempt.signal.reason);
  });

  it('should not count a deadline the caller shortened against the breaker', () => {
    const attempt = aDeadline({ durationMs: 1_000, shortenedByCaller: true }).beginAttempt();

    jest.advanceTimersByTime(1_000);

    expect(attempt.signal.reason).toMatchObject({ timeout: 'deadline', policy: { tripsBreaker: false } });
  });

  it('should abort an attempt at its first-byte limit, counted from its start, and only that attempt', () => {
    const limits = aDeadline();
    jest.advanceTimersByTime(300);
    const first = limits.beginAttempt();

    jest.advanceTimersByTime(999);
    expect(first.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(first.signal.reason).toMatchObject({ code: 'upstream_timeout', timeout: 'first_byte' });
    limits.endAttempt();
    const second = limits.beginAttempt();

    expect(second).not.toBe(first);
    expect(second.signal.aborted).toBe(false);
    expect(limits.remainingMs()).toBe(8_700);
  });

  it('should give the next attempt the same controller when the last one was not aborted', () => {
    const limits = aDeadline();
    const first = limits.beginAttempt();
    limits.endAttempt();

    jest.advanceTimersByTime(5_000);

    expect(limits.beginAttempt()).toBe(first);
    expect(first.signal.aborted).toBe(false);
  });

  it('should not abort an attempt that ended before its first-byte limit', () => {
    const limits = aDeadline();
    const attempt = limits.beginAttempt();
    limits.endAttempt();

    jest.advanceTimersByTime(9_999);

    expect(attempt.signal.aborted).toBe(false);
  });

  it('should sleep, and end the sleep with the reason the call ended for', async () => {
    const caller = new AbortController();
    const limits = aDeadline({}, caller.signal);
    const nap = track(limits.sleep(500));
    await jest.advanceTimersByTimeAsync(500);
    expect(nap.settled).toBe(true);

    const cut = track(limits.sleep(500));
    await jest.advanceTimersByTimeAsync(100);
    caller.abort();

    await expect(cut.rejection()).resolves.toBeInstanceOf(RequestAbortedError);
    await expect(limits.sleep(1)).rejects.toBeInstanceOf(RequestAbortedError);
  });

  it('should abort the attempt in flight with RequestAbortedError when the caller aborts, and stop listening to it', () => {
    const caller = new AbortController();
    const attempt = aDeadline({}, caller.signal).beginAttempt();

    caller.abort();

    expect(attempt.signal.reason).toBeInstanceOf(RequestAbortedError);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('should refuse every attempt for a caller that has already gone', () => {
    expect(() => aDeadline({}, AbortSignal.abort()).beginAttempt()).toThrow(RequestAbortedError);
  });

  it('should keep one timer through attempts and sleeps, and none once released', async () => {
    const caller = new AbortController();
    const limits = aDeadline({}, caller.signal);
    const timers: number[] = [];

    for (let attempt = 0; attempt < 3; attempt++) {
      limits.beginAttempt();
      timers.push(jest.getTimerCount());
      await jest.advanceTimersByTimeAsync(attempt === 0 ? 1_000 : 10);
      limits.endAttempt();
      const nap = limits.sleep(250);
      timers.push(jest.getTimerCount());
      await jest.advanceTimersByTimeAsync(250);
      await nap;
      timers.push(jest.getTimerCount());
    }
    limits.release();

    expect(timers).toEqual(Array(9).fill(1));
    expect(jest.getTimerCount()).toBe(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('should re-aim its timer at the end of the call when an ended attempt leaves it early', () => {
    const limits = aDeadline({ durationMs: 2_500 });
    const attempt = limits.beginAttempt();
    limits.endAttempt();

    jest.advanceTimersByTime(2_499);
    expect(attempt.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);

    expect(attempt.signal.reason).toMatchObject({ timeout: 'deadline' });
  });

  it('should keep its limits by its timer when the clock does not move', () => {
    const limits = aDeadline({ durationMs: 2_500 }, undefined, new FakeClock());
    limits.beginAttempt();
    jest.advanceTimersByTime(1_000);
    limits.endAttempt();
    const second = limits.beginAttempt();
    limits.endAttempt();

    jest.advanceTimersByTime(1_500);

    expect(second.signal.reason).toMatchObject({ timeout: 'deadline' });
  });
});
