import { getEventListeners } from 'node:events';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { AiModuleOptions } from '../ai-module-options';
import { Clock } from '../common/clock';
import {
  AiError,
  RequestAbortedError,
  UpstreamAuthFailedError,
  UpstreamBadRequestError,
  UpstreamModelNotFoundError,
  UpstreamQuotaExhaustedError,
  UpstreamRateLimitedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../errors/ai-errors';
import { AiTestingModule, createAiTestingModule } from '../../test/ai-testing-module';
import { track, useFakeTime } from '../../test/async';
import { aChatCompletion, anApiError, anInsufficientQuotaError, aRateLimitError, UPSTREAM_REQUEST_ID } from '../../test/factories';
import { fail, FakeUpstreamClient, hang, respond } from '../../test/fake-upstream-client';
import { Attempt, CallContext, fallbackChainOf, ResilientUpstream } from './resilient-upstream';
import { UpstreamPool } from './upstream-pool';

const PRIMARY = 'gpt-4o';
const FALLBACK = 'gpt-4o-mini';
const SECOND_FALLBACK = 'gpt-4.1-mini';
// With Math.random() = 0.5, retry n sleeps half its backoff ceiling: 250 ms, then 500 ms.
const FIRST_BACKOFF_MS = 250;

describe(ResilientUpstream.name, () => {
  let testing: AiTestingModule;
  let upstream: FakeUpstreamClient;

  beforeEach(() => useFakeTime());

  afterEach(async () => {
    await testing?.moduleRef.close();
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  async function setUp(options: Partial<AiModuleOptions> = {}): Promise<FakeUpstreamClient> {
    testing = await createAiTestingModule(options);
    // After compiling: Nest draws its module ids from Math.random.
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    return (upstream = testing.upstream);
  }

  const createCompletion: Attempt<ChatCompletion> = (model, control) =>
    upstream.createChatCompletion({ model, messages: [{ role: 'user', content: 'Hi' }] }, control);

  const call = (context: CallContext = {}, model = PRIMARY) => track(testing.resilient.call(model, context, createCompletion));

  /** Settles a call whose every wait fits in `ms`. */
  async function callAndWait(ms = 60_000, context: CallContext = {}, model = PRIMARY) {
    const tracked = call(context, model);
    await jest.advanceTimersByTimeAsync(ms);
    expect(tracked.settled).toBe(true);
    return tracked;
  }

  describe('retries', () => {
    it('should retry a 500 and return the answer with the attempts made', async () => {
      await setUp();
      upstream.always(fail(anApiError(500)), respond(aChatCompletion(), { requestId: UPSTREAM_REQUEST_ID }));

      const { value } = await callAndWait();

      expect(value).toEqual({ value: aChatCompletion(), model: PRIMARY, attempts: 2, upstreamRequestId: UPSTREAM_REQUEST_ID, upstream: 'openai' });
    });

    it('should sleep the backoff before retrying', async () => {
      await setUp();
      upstream.always(fail(anApiError(503)), respond(aChatCompletion()));

      const tracked = call();
      await jest.advanceTimersByTimeAsync(FIRST_BACKOFF_MS - 1);
      expect(upstream.calls).toHaveLength(1);

      await jest.advanceTimersByTimeAsync(1);
      expect(upstream.calls).toHaveLength(2);
      expect(tracked.value?.attempts).toBe(2);
    });

    it('should wait the retry-after-ms of a 429 rate_limit_exceeded before retrying', async () => {
      await setUp();
      upstream.always(fail(aRateLimitError({ 'retry-after-ms': '1500' })), respond(aChatCompletion()));

      const tracked = call();
      await jest.advanceTimersByTimeAsync(1_499);
      expect(upstream.calls).toHaveLength(1);

      await jest.advanceTimersByTimeAsync(1);
      expect(upstream.calls).toHaveLength(2);
      expect(tracked.value?.attempts).toBe(2);
    });

    it('should retry the rested key once its wait is over, even on a clock that advanced less than the timer (a stale event-loop time)', async () => {
      await setUp();
      upstream.always(fail(aRateLimitError({ 'retry-after-ms': '1500' })), respond(aChatCompletion()));
      const clock = testing.moduleRef.get<Clock>(Clock);
      let lagMs = 0;
      const systemNow = clock.now.bind(clock);
      jest.spyOn(clock, 'now').mockImplementation(() => systemNow() - lagMs);

      const tracked = call();
      await jest.advanceTimersByTimeAsync(0);
      expect(upstream.calls).toHaveLength(1);
      // libuv aims timers by the loop's cached time, which a busy loop leaves behind: the wait ends 1 ms early by the clock.
      lagMs = 1;
      await jest.advanceTimersByTimeAsync(1_500);

      expect(upstream.calls).toHaveLength(2);
      expect(tracked.value?.attempts).toBe(2);
    });

    it('should not sleep the upstream’s retry-after for a caller that defers it, but fail at once with that wait', async () => {
      await setUp();
      upstream.always(fail(aRateLimitError({ 'retry-after-ms': '1500' })), respond(aChatCompletion()));

      const { error } = await callAndWait(0, { deferRetryAfter: true });

      expect(upstream.calls).toHaveLength(1);
      expect(error).toBeInstanceOf(UpstreamRateLimitedError);
      expect(error).toMatchObject({ retryAfterMs: 1500, upstreamAttempts: 1 });
    });

    it('should still retry with backoff a failure that names no wait when the caller defers retry-after', async () => {
      await setUp();
      upstream.always(fail(anApiError(500)), respond(aChatCompletion()));

      const { value } = await callAndWait(60_000, { deferRetryAfter: true });

      expect(value?.attempts).toBe(2);
    });

    it('should make at most maxAttempts calls and then say when to come back', async () => {
      await setUp({ retry: { maxAttempts: 4 } });
      upstream.always(fail(anApiError(500)));

      const { error } = await callAndWait();

      expect(upstream.calls).toHaveLength(4);
      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect(error).toMatchObject({ reason: 'upstream_error', retryAfterMs: 4_000 });
    });

    it('should pass the last retry-after of a 429 on once the attempts are spent', async () => {
      await setUp({ retry: { maxAttempts: 2 } });
      upstream.always(fail(aRateLimitError({ 'retry-after-ms': '700' })));

      const { error } = await callAndWait();

      expect(upstream.calls).toHaveLength(2);
      expect(error).toBeInstanceOf(UpstreamRateLimitedError);
      expect(error).toMatchObject({ retryAfterMs: 700 });
    });

    it('should never retry insufficient_quota, and take the key out rather than open the model\'s breaker', async () => {
      await setUp({ breaker: { resetTimeoutMs: 30_000 } });
      upstream.always(fail(anInsufficientQuotaError()));

      const tracked = call();
      await jest.advanceTimersByTimeAsync(0);

      expect(upstream.calls).toHaveLength(1);
      expect(tracked.error).toBeInstanceOf(UpstreamQuotaExhaustedError);
      expect(tracked.error).toMatchObject({ retryAfterMs: 30_000 });
      expect(testing.breakers.forModel(PRIMARY).status().state).toBe('closed');
      expect(testing.moduleRef.get(UpstreamPool).statuses()).toMatchObject([{ key: 'key-1', state: 'out', out: { reason: 'insufficient_quota' } }]);
    });

    it('should never open the breaker on a burst of 429s, however many: the upstream is working as designed', async () => {
      await setUp({ retry: { maxAttempts: 1 }, breaker: { volumeThreshold: 2, errorThresholdPercentage: 10 } });
      upstream.always(fail(aRateLimitError({ 'retry-after-ms': '1000' })));

      const calls = Array.from({ length: 20 }, () => call());
      await jest.advanceTimersByTimeAsync(2_000);

      expect(calls.every((tracked) => tracked.error instanceof UpstreamRateLimitedError)).toBe(true);
      expect(testing.breakers.forModel(PRIMARY).status()).toMatchObject({ state: 'closed', recentFailures: 0 });
    });

    it('should leave the breakers of the other models closed: the key is out, not the upstream', async () => {
      await setUp();
      upstream.always(respond(aChatCompletion()));
      await callAndWait(0, {}, 'gpt-4o-mini');
      upstream.always(fail(anInsufficientQuotaError()));

      await callAndWait(0);

      expect(testing.breakers.forModel('gpt-4o-mini').status().state).toBe('closed');
    });

    it('should fail fast without calling the upstream while the only key is out, then let one call probe it', async () => {
      await setUp({ breaker: { resetTimeoutMs: 30_000 } });
      upstream.always(fail(anInsufficientQuotaError()));
      await callAndWait(0);
      await jest.advanceTimersByTimeAsync(5_000);

      const { error } = await callAndWait(0);

      expect(upstream.calls).toHaveLength(1);
      expect(error).toBeInstanceOf(UpstreamQuotaExhaustedError);
      expect(error).toMatchObject({ retryAfterMs: 25_000 });

      await jest.advanceTimersByTimeAsync(25_000);
      upstream.always(respond(aChatCompletion()));
      const probe = await callAndWait(0);

      expect(upstream.calls).toHaveLength(2);
      expect(probe.value?.value).toEqual(aChatCompletion());
      expect(testing.moduleRef.get(UpstreamPool).statuses()).toMatchObject([{ state: 'ready' }]);
    });

    it('should not retry a 401', async () => {
      await setUp();
      upstream.always(fail(anApiError(401, { code: 'invalid_api_key' })));

      const { error } = await callAndWait();

      expect(upstream.calls).toHaveLength(1);
      expect(error).toBeInstanceOf(UpstreamAuthFailedError);
    });

    it('should not retry a 400', async () => {
      await setUp();
      upstream.always(fail(anApiError(400, { code: 'invalid_value', param: 'temperature' })));

      const { error } = await callAndWait();

      expect(upstream.calls).toHaveLength(1);
      expect(error).toBeInstanceOf(UpstreamBadRequestError);
    });

    it('should fail at once, with that Retry-After, when the server asks for a wait longer than the time left', async () => {
      await setUp({ timeouts: { totalMs: 10_000 } });
      upstream.always(fail(aRateLimitError({ 'retry-after-ms': '20000' })), respond(aChatCompletion()));

      const tracked = call();
      await jest.advanceTimersByTimeAsync(0);

      expect(tracked.settled).toBe(true);
      expect(tracked.error).toBeInstanceOf(UpstreamRateLimitedError);
      expect(tracked.error).toMatchObject({ retryAfterMs: 20_000 });
      expect(upstream.calls).toHaveLength(1);
    });

    it('should fail at once when the server asks for a wait longer than maxRetryAfterMs', async () => {
      await setUp({ retry: { maxRetryAfterMs: 5_000 } });
      upstream.always(fail(aRateLimitError({ 'retry-after': '6' })), respond(aChatCompletion()));

      const tracked = call();
      await jest.advanceTimersByTimeAsync(0);

      expect(tracked.error).toMatchObject({ code: 'upstream_rate_limited', retryAfterMs: 6_000 });
      expect(upstream.calls).toHaveLength(1);
    });
  });

  describe('retry budget', () => {
    it('should stop retrying once the budget is spent', async () => {
      await setUp();
      while (testing.budget.tryAcquireRetry());
      upstream.always(fail(anApiError(500)));

      const { error } = await callAndWait();

      expect(upstream.calls).toHaveLength(1);
      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect(error).toMatchObject({
        reason: 'retry_budget_exhausted',
        retryAfterMs: 1_000,
        policy: { retryable: false, triesFallback: false },
      });
    });

    it('should keep upstream load within ~110% plus the reserve when the upstream always fails', async () => {
      // Default budget: 10% of requests plus 0.5/s over 10 s; the breaker never opens.
      await setUp({ retry: { maxAttempts: 3 }, breaker: { volumeThreshold: 1_000_000 } });
      upstream.always(fail(anApiError(500)));

      const calls = Array.from({ length: 100 }, () => call());
      await jest.advanceTimersByTimeAsync(5_000);

      expect(calls.every((c) => c.settled)).toBe(true);
      expect(upstream.calls.length).toBeGreaterThan(100);
      expect(upstream.calls.length).toBeLessThanOrEqual(100 * 1.1 + 5);
      expect(calls.filter((c) => (c.error as UpstreamUnavailableError).reason === 'retry_budget_exhausted').length).toBeGreaterThan(0);
    });

    it("should leave a quiet tenant its share of retries after a noisy tenant's failing calls spent theirs", async () => {
      await setUp({ retry: { maxAttempts: 3 }, breaker: { volumeThreshold: 1_000_000 } });
      // The quiet tenant has been calling (its calls succeeded) when the noisy one's start failing.
      testing.budget.recordRequest('quiet');
      upstream.always(fail(anApiError(500)));
      const noisy = Array.from({ length: 100 }, () => call({ tenantId: 'noisy' }));
      await jest.advanceTimersByTimeAsync(5_000);
      expect(noisy.some((c) => (c.error as UpstreamUnavailableError).reason === 'retry_budget_exhausted')).toBe(true);
      const before = upstream.calls.length;

      const { error } = await callAndWait(60_000, { tenantId: 'quiet' });

      // Its first attempt and two retries, paid from its half of the reserve (without shares: no retry at all).
      expect(upstream.calls.length - before).toBe(3);
      expect(error).not.toMatchObject({ reason: 'retry_budget_exhausted' });
    });

    // The budget is asked before the wait: a retry it refuses must not sleep the server delay first.
    it('should fail at once, without waiting, when the budget cannot pay for the retry', async () => {
      await setUp();
      while (testing.budget.tryAcquireRetry());
      upstream.always(fail(aRateLimitError({ 'retry-after-ms': '10000' })));

      const tracked = call();
      await jest.advanceTimersByTimeAsync(0);

      expect(tracked.settled).toBe(true);
    });
  });

  describe('fallbacks', () => {
    const fallbackModels = { [PRIMARY]: [FALLBACK, SECOND_FALLBACK] };

    it('should find no fallbacks for a model named after an Object.prototype member of a plain chain table', () => {
      expect(fallbackChainOf({}, 'constructor')).toEqual([]);
      expect(fallbackChainOf({ [PRIMARY]: [FALLBACK] }, 'toString')).toEqual([]);
      expect(fallbackChainOf({ [PRIMARY]: [FALLBACK] }, PRIMARY)).toEqual([FALLBACK]);
    });

    it("should try the caller's chain instead of the module's", async () => {
      await setUp({ fallbackModels });
      upstream.script(PRIMARY, fail(anApiError(404, { code: 'model_not_found' })));
      upstream.script(SECOND_FALLBACK, respond(aChatCompletion()));

      const { value } = await callAndWait(60_000, { fallbacks: [SECOND_FALLBACK] });

      expect(value).toMatchObject({ model: SECOND_FALLBACK, attempts: 2 });
      expect(upstream.calls.map((made) => made.model)).toEqual([PRIMARY, SECOND_FALLBACK]);
    });

    it('should try the fallback after the retries of a retryable failure, and name the model that answered', async () => {
      await setUp({ fallbackModels, retry: { maxAttempts: 2 } });
      upstream.script(PRIMARY, fail(anApiError(503))).script(FALLBACK, respond(aChatCompletion({ model: FALLBACK })));

      const { value } = await callAndWait();

      expect(upstream.models).toEqual([PRIMARY, PRIMARY, FALLBACK]);
      expect(value).toMatchObject({ model: FALLBACK, attempts: 3 });
    });

    it('should try the fallbacks in order after a 404', async () => {
      await setUp({ fallbackModels });
      upstream
        .script(PRIMARY, fail(anApiError(404, { code: 'model_not_found' })))
        .script(FALLBACK, fail(anApiError(403)))
        .script(SECOND_FALLBACK, respond(aChatCompletion({ model: SECOND_FALLBACK })));

      const { value } = await callAndWait();

      expect(upstream.models).toEqual([PRIMARY, FALLBACK, SECOND_FALLBACK]);
      expect(value).toMatchObject({ model: SECOND_FALLBACK, attempts: 3 });
    });

    it('should go straight to the fallback while the model\'s breaker is open', async () => {
      await setUp({ fallbackModels });
      testing.breakers.forModel(PRIMARY).forceOpen();
      upstream.always(respond(aChatCompletion()));

      const { value } = await callAndWait();

      expect(upstream.models).toEqual([FALLBACK]);
      expect(value).toMatchObject({ model: FALLBACK, attempts: 1 });
    });

    it('should report the last failure when every model failed', async () => {
      await setUp({ fallbackModels: { [PRIMARY]: [FALLBACK] }, retry: { maxAttempts: 1 } });
      upstream.script(PRIMARY, fail(anApiError(503))).script(FALLBACK, fail(anApiError(404)));

      const { error } = await callAndWait();

      expect(error).toBeInstanceOf(UpstreamModelNotFoundError);
      expect((error as Error).message).toContain(FALLBACK);
    });

    it.each([
      ['a 400', anApiError(400, { code: 'invalid_value' }), UpstreamBadRequestError],
      ['insufficient_quota', anInsufficientQuotaError(), UpstreamQuotaExhaustedError],
      ['a 401', anApiError(401), UpstreamAuthFailedError],
    ])('should not try the fallbacks after %s', async (_name, upstreamError, expected) => {
      await setUp({ fallbackModels });
      upstream.script(PRIMARY, fail(upstreamError)).script(FALLBACK, respond(aChatCompletion()));

      const { error } = await callAndWait();

      expect(upstream.models).toEqual([PRIMARY]);
      expect(error).toBeInstanceOf(expected);
    });
  });

  describe('time limits and cancellation', () => {
    it('should not count a deadline the caller shortened against the breaker, but count the configured one', async () => {
      await setUp({ timeouts: { totalMs: 5_000, firstByteMs: 60_000 }, breaker: { volumeThreshold: 2, errorThresholdPercentage: 50 } });
      upstream.always(hang());

      for (let i = 0; i < 3; i++) await callAndWait(1_000, { timeoutMs: 1_000 });
      const afterShortened = testing.breakers.forModel(PRIMARY).status().state;
      for (let i = 0; i < 3; i++) await callAndWait(5_000);

      expect(afterShortened).toBe('closed');
      expect(testing.breakers.forModel(PRIMARY).status().state).toBe('open');
    });

    it('should abort an attempt at the first-byte timeout and retry it', async () => {
      await setUp({ timeouts: { firstByteMs: 1_000 } });
      upstream.always(hang(), respond(aChatCompletion()));

      const tracked = call();
      await jest.advanceTimersByTimeAsync(999);
      expect(upstream.signals[0].aborted).toBe(false);

      await jest.advanceTimersByTimeAsync(1 + FIRST_BACKOFF_MS);

      expect(upstream.signals[0].aborted).toBe(true);
      expect(upstream.signals[0].reason).toMatchObject({ code: 'upstream_timeout', timeout: 'first_byte' });
      expect(tracked.value).toMatchObject({ attempts: 2 });
    });

    it('should end the call at the total deadline and abort the attempt in flight', async () => {
      await setUp({ timeouts: { totalMs: 5_000 } });
      upstream.always(hang());

      const tracked = call();
      await jest.advanceTimersByTimeAsync(4_999);
      expect(tracked.settled).toBe(false);

      await jest.advanceTimersByTimeAsync(1);

      expect(tracked.error).toBeInstanceOf(UpstreamTimeoutError);
      expect(tracked.error).toMatchObject({ timeout: 'deadline' });
      expect(upstream.lastSignal.aborted).toBe(true);
      expect(upstream.calls).toHaveLength(1);
    });

    it('should end the call at a shorter timeoutMs asked for by the caller', async () => {
      await setUp({ timeouts: { totalMs: 120_000 } });
      upstream.always(hang());

      const tracked = call({ timeoutMs: 2_000 });
      await jest.advanceTimersByTimeAsync(1_999);
      expect(tracked.settled).toBe(false);

      await jest.advanceTimersByTimeAsync(1);

      expect(tracked.error).toMatchObject({ code: 'upstream_timeout', timeout: 'deadline' });
      expect(upstream.lastSignal.aborted).toBe(true);
    });

    it('should ignore a timeoutMs longer than the configured total', async () => {
      await setUp({ timeouts: { totalMs: 3_000, firstByteMs: 60_000 } });
      upstream.always(hang());

      const tracked = call({ timeoutMs: 10_000 });
      await jest.advanceTimersByTimeAsync(3_000);

      expect(tracked.error).toMatchObject({ timeout: 'deadline' });
    });

    it('should end the call during a backoff sleep when the caller aborts', async () => {
      await setUp();
      upstream.always(fail(anApiError(500)), respond(aChatCompletion()));
      const caller = new AbortController();

      const tracked = call({ signal: caller.signal });
      await jest.advanceTimersByTimeAsync(FIRST_BACKOFF_MS - 1);
      caller.abort();
      await jest.advanceTimersByTimeAsync(FIRST_BACKOFF_MS);

      expect(tracked.error).toBeInstanceOf(RequestAbortedError);
      expect(upstream.calls).toHaveLength(1);
    });

    it('should end the call with RequestAbortedError and abort the upstream when the caller aborts', async () => {
      await setUp();
      upstream.always(hang());
      const caller = new AbortController();

      const tracked = call({ signal: caller.signal });
      await jest.advanceTimersByTimeAsync(100);
      caller.abort();
      await jest.advanceTimersByTimeAsync(0);

      expect(tracked.error).toBeInstanceOf(RequestAbortedError);
      expect(upstream.lastSignal.aborted).toBe(true);
      expect(upstream.calls).toHaveLength(1);
    });

    it('should not call the upstream for a caller that has already gone', async () => {
      await setUp();
      upstream.always(respond(aChatCompletion()));

      const { error } = await callAndWait(0, { signal: AbortSignal.abort() });

      expect(error).toBeInstanceOf(RequestAbortedError);
      expect(upstream.calls).toHaveLength(0);
    });

    // A long-lived caller signal (an app's shutdown signal) must not gain one listener, holding one Deadline, per call.
    it('should stop listening to the caller\'s signal once the call is over', async () => {
      await setUp();
      upstream.always(respond(aChatCompletion()));
      const appShutdown = new AbortController();

      for (let i = 0; i < 3; i++) await callAndWait(0, { signal: appShutdown.signal });

      expect(getEventListeners(appShutdown.signal, 'abort')).toHaveLength(0);
    });
  });

  describe('timers and controllers', () => {
    /** Settles a call step by step, counting the AbortControllers it makes and the most timers it keeps pending at once. */
    async function measureCall(context: CallContext = {}) {
      const RealAbortController = AbortController;
      let controllers = 0;
      jest.spyOn(globalThis, 'AbortController').mockImplementation(function () {
        controllers++;
        return new RealAbortController();
      } as never);
      const setTimeouts = jest.spyOn(globalThis, 'setTimeout');
      const before = jest.getTimerCount();
      const tracked = call(context);
      let mostTimers = 0;
      for (let step = 0; step < 1_000 && !tracked.settled; step++) {
        mostTimers = Math.max(mostTimers, jest.getTimerCount() - before);
        await jest.advanceTimersByTimeAsync(10);
      }
      expect(tracked.settled).toBe(true);
      return { tracked, controllers, mostTimers, timersMade: setTimeouts.mock.calls.length, timersLeft: jest.getTimerCount() - before };
    }

    /** The model's breaker is made by its first call, with timers of its own: made before counting. */
    async function setUpWarm(options: Partial<AiModuleOptions> = {}) {
      await setUp(options);
      upstream.always(respond(aChatCompletion()));
      await callAndWait(0);
      upstream.calls.length = 0;
    }

    it('should make one timer and one controller for a call answered at once', async () => {
      await setUpWarm();

      const measured = await measureCall();

      expect(measured).toMatchObject({ controllers: 1, timersMade: 1, mostTimers: 1, timersLeft: 0 });
    });

    it('should keep one timer and one controller across a call with two retries', async () => {
      await setUpWarm();
      upstream.always(fail(anApiError(500)), fail(anApiError(503)), respond(aChatCompletion()));

      const { tracked, controllers, mostTimers, timersLeft } = await measureCall({ signal: new AbortController().signal });

      expect(tracked.value).toMatchObject({ attempts: 3 });
      expect(controllers).toBe(1);
      expect(new Set(upstream.signals).size).toBe(1);
      expect(mostTimers).toBe(1);
      expect(timersLeft).toBe(0);
    });

    it('should keep one timer across first-byte timeouts, with a new controller only for each attempt cancelled on its own', async () => {
      await setUpWarm({ timeouts: { firstByteMs: 1_000 } });
      upstream.always(hang(), hang(), respond(aChatCompletion()));

      const { tracked, controllers, mostTimers, timersLeft } = await measureCall();

      expect(tracked.value).toMatchObject({ attempts: 3 });
      expect(controllers).toBe(3);
      expect(upstream.signals.slice(0, 2).map((signal) => signal.reason)).toEqual([
        expect.objectContaining({ timeout: 'first_byte' }),
        expect.objectContaining({ timeout: 'first_byte' }),
      ]);
      expect(upstream.signals[2].aborted).toBe(false);
      expect(mostTimers).toBe(1);
      expect(timersLeft).toBe(0);
    });

    it("should abort attempts with the library's own errors as reasons", async () => {
      await setUpWarm({ timeouts: { firstByteMs: 1_000, totalMs: 5_000 } });
      upstream.always(hang());
      const caller = new AbortController();

      await callAndWait(60_000);
      const aborting = call({ signal: caller.signal });
      await jest.advanceTimersByTimeAsync(100);
      caller.abort();
      await aborting.rejection();

      expect(upstream.signals.length).toBeGreaterThan(2);
      expect(upstream.signals.every((signal) => signal.aborted && signal.reason instanceof AiError)).toBe(true);
    });
  });
});
